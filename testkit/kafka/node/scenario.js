#!/usr/bin/env node
// The testkit/kafka scenario with kafkajs: create the topic, produce --count
// keyed records with headers (idempotent, acks=all, kafkajs's
// DefaultPartitioner, which is the Java client's murmur2), consume them back
// in a consumer group, print the JSON summary line (testkit/kafka/README.md).
// kafkajs has no manual partition assignment, so --consume assign is refused.
//
//   node testkit/kafka/node/scenario.js --bootstrap 127.0.0.1:9092 --topic T --count 1000 --partitions 8
//
// kafkajs is looked up in $KAFKAJS_DIR, then target/node/node_modules (where
// scripts/install-kafka-clients puts it), then the usual node paths.
'use strict';

const path = require('path');
const crypto = require('crypto');

const root = path.resolve(__dirname, '..', '..', '..');
const searchPaths = [process.env.KAFKAJS_DIR, path.join(root, 'target', 'node', 'node_modules'), __dirname]
  .filter(Boolean);
const kafkajsMain = require.resolve('kafkajs', { paths: searchPaths });
const { Kafka, Partitioners, logLevel } = require(kafkajsMain);
const kafkajsVersion = require(path.join(path.dirname(kafkajsMain), 'package.json')).version;

const CLIENT = 'kafkajs';
const KEYS = 100;

function parseArgs(argv) {
  const a = { bootstrap: '127.0.0.1:9092', topic: null, count: 1000, partitions: 8, consume: 'group', timeout: 60, run: null };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    const value = argv[i + 1];
    if (!name.startsWith('--') || value === undefined) usage(`bad argument ${name}`);
    const k = name.slice(2);
    if (!(k in a)) usage(`unknown option ${name}`);
    a[k] = ['count', 'partitions', 'timeout'].includes(k) ? Number(value) : value;
    i++;
  }
  if (!a.topic) usage('--topic is required');
  if (!['group', 'assign'].includes(a.consume)) usage('--consume is group or assign');
  if (!a.run) a.run = crypto.randomBytes(4).toString('hex');
  return a;
}

function usage(msg) {
  process.stderr.write(`${msg}\nusage: scenario.js --bootstrap host:port --topic T [--count N] [--partitions P] [--consume group] [--timeout S] [--run ID]\n`);
  process.exit(2);
}

const keyOf = (i) => `key-${i % KEYS}`;
const valueOf = (run, i) => `${run}:${i}:` + 'x'.repeat(i % 97);
const headersOf = (run, i) => [['run', run], ['idx', String(i)], ['dup', 'a'], ['dup', 'b']];

// org.apache.kafka.common.utils.Utils.murmur2
function murmur2(buf) {
  const m = 0x5bd1e995;
  const r = 24;
  const length = buf.length;
  let h = (0x9747b28c ^ length) | 0;
  const n4 = length >> 2;
  for (let i = 0; i < n4; i++) {
    const o = i * 4;
    let k = (buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24)) | 0;
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const base = n4 * 4;
  switch (length % 4) {
    case 3: h ^= buf[base + 2] << 16; // falls through
    case 2: h ^= buf[base + 1] << 8; // falls through
    case 1: h ^= buf[base]; h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
const murmur2Partition = (key, n) => (murmur2(Buffer.from(key)) & 0x7fffffff) % n;

const log = (...a) => process.stderr.write(a.join(' ') + '\n');
const withTimeout = (p, s, what) => Promise.race([
  p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what} timed out after ${s}s`)), s * 1000).unref()),
]);

async function createTopic(kafka, a) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: a.topic, numPartitions: a.partitions, replicationFactor: 1 }], waitForLeaders: true, timeout: a.timeout * 1000 });
    const deadline = Date.now() + a.timeout * 1000;
    for (;;) {
      try {
        const md = await admin.fetchTopicMetadata({ topics: [a.topic] });
        const parts = md.topics[0].partitions;
        if (parts.length && parts.every((p) => p.leader >= 0)) return parts.length;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
      if (Date.now() > deadline) throw new Error(`topic ${a.topic} has no leaders after ${a.timeout}s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

async function produce(kafka, a) {
  const placed = new Map(); // message object -> partition chosen by the partitioner
  const createPartitioner = () => {
    const inner = Partitioners.DefaultPartitioner();
    return (args) => {
      const p = inner(args);
      placed.set(args.message, p);
      return p;
    };
  };
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner });
  await producer.connect();
  const produced = new Map(); // i -> [partition, offset]
  let errors = 0;
  try {
    const chunk = 100;
    for (let start = 0; start < a.count; start += chunk) {
      const msgs = [];
      for (let i = start; i < Math.min(a.count, start + chunk); i++) {
        const headers = {};
        for (const [k, v] of headersOf(a.run, i)) {
          if (k in headers) headers[k] = [].concat(headers[k], v);
          else headers[k] = v;
        }
        msgs.push({ i, m: { key: keyOf(i), value: valueOf(a.run, i), headers } });
      }
      try {
        const res = await producer.send({ topic: a.topic, acks: -1, messages: msgs.map((x) => x.m) });
        const base = new Map(res.map((r) => [r.partition, BigInt(r.baseOffset)]));
        const next = new Map();
        for (const { i, m } of msgs) {
          const p = placed.get(m);
          const n = next.get(p) || 0n;
          next.set(p, n + 1n);
          produced.set(i, [p, base.has(p) ? Number(base.get(p) + n) : null]);
        }
      } catch (e) {
        errors += msgs.length;
        log('produce error:', e.message);
      }
    }
  } finally {
    await producer.disconnect();
  }
  return { produced, errors };
}

async function consume(kafka, a) {
  const consumer = kafka.consumer({ groupId: `scenario-${a.run}`, allowAutoTopicCreation: false });
  const consumed = [];
  const last = new Map();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [a.topic], fromBeginning: true });
    let done;
    const finished = new Promise((r) => { done = r; });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const headers = [];
        for (const [k, v] of Object.entries(message.headers || {})) {
          for (const x of [].concat(v)) headers.push([k, x === null || x === undefined ? null : x.toString()]);
        }
        const run = headers.find(([k]) => k === 'run');
        if (!run || run[1] !== a.run) return;
        consumed.push([partition, Number(message.offset), message.key && message.key.toString(), message.value && message.value.toString(), headers]);
        last.set(partition, Number(message.offset));
        if (consumed.length >= a.count) done();
      },
    });
    await withTimeout(finished, a.timeout, 'consuming').catch((e) => log(e.message));
    if (last.size) {
      await consumer.commitOffsets([...last].map(([partition, off]) => ({ topic: a.topic, partition, offset: String(off + 1) })));
    }
  } finally {
    await consumer.disconnect();
  }
  return consumed;
}

function summarize(a, topicPartitions, produced, produceErrors, consumed, produceMs, consumeMs, error) {
  const n = a.count;
  const expected = new Map();
  for (let i = 0; i < n; i++) expected.set(JSON.stringify([keyOf(i), valueOf(a.run, i), headersOf(a.run, i)]), i);
  const seen = new Map();
  let duplicates = 0;
  let mismatched = 0;
  let identical = true;
  const perPart = new Map();
  for (const [part, off, key, value, headers] of consumed) {
    const i = expected.get(JSON.stringify([key, value, headers]));
    if (i === undefined) { mismatched++; identical = false; continue; }
    if (seen.has(i)) { duplicates++; continue; }
    seen.set(i, [part, off]);
    if (!perPart.has(part)) perPart.set(part, []);
    perPart.get(part).push([off, i]);
    const d = produced.get(i);
    if (d && ((d[0] !== null && d[0] !== part) || (d[1] !== null && d[1] !== off))) identical = false;
  }
  const missing = n - seen.size;
  if (missing) identical = false;
  const offsets = {};
  let dense = true;
  let ordered = true;
  for (const part of [...perPart.keys()].sort((x, y) => x - y)) {
    const recs = perPart.get(part).sort((x, y) => x[0] - y[0]);
    let d = true;
    let o = true;
    for (let j = 1; j < recs.length; j++) {
      if (recs[j][0] !== recs[j - 1][0] + 1) d = false;
      if (recs[j][1] <= recs[j - 1][1]) o = false;
    }
    dense = dense && d;
    ordered = ordered && o;
    offsets[String(part)] = { count: recs.length, dense: d, first: recs[0][0], last: recs[recs.length - 1][0] };
  }
  const placement = {};
  let consistent = true;
  for (const i of [...produced.keys()].sort((x, y) => x - y)) {
    const k = keyOf(i);
    const p = produced.get(i)[0];
    if (k in placement && placement[k] !== p) consistent = false;
    if (!(k in placement)) placement[k] = p;
  }
  const keys = Object.keys(placement);
  const placementMurmur2 = keys.length > 0 && keys.every((k) => placement[k] === murmur2Partition(k, a.partitions));
  const ok = error === null && produceErrors === 0 && produced.size === n && missing === 0 && duplicates === 0 &&
    identical && dense && ordered && consistent && topicPartitions === a.partitions;
  const s = {
    bootstrap: a.bootstrap, client: CLIENT, client_version: kafkajsVersion, consume_mode: a.consume,
    consume_ms: Math.round(consumeMs), consumed: seen.size, count: n, duplicates, error, mismatched, missing,
    offsets_dense: dense, ok, order_preserved: ordered, partition_offsets: offsets, partitions: a.partitions,
    placement, placement_consistent: consistent, placement_murmur2: placementMurmur2, placement_source: 'delivery',
    produce_errors: produceErrors, produce_ms: Math.round(produceMs), produced: produced.size,
    records_identical: identical, run: a.run, topic: a.topic, topic_partitions: topicPartitions,
  };
  return s;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const kafka = new Kafka({ clientId: 'stratus-scenario', brokers: [a.bootstrap], logLevel: logLevel.ERROR });
  let topicPartitions = 0;
  let produced = new Map();
  let errors = 0;
  let consumed = [];
  let error = null;
  let produceMs = 0;
  let consumeMs = 0;
  try {
    if (a.consume !== 'group') throw new Error('kafkajs has no manual partition assignment; use --consume group');
    topicPartitions = await createTopic(kafka, a);
    let t = Date.now();
    ({ produced, errors } = await produce(kafka, a));
    produceMs = Date.now() - t;
    t = Date.now();
    consumed = await consume(kafka, a);
    consumeMs = Date.now() - t;
  } catch (e) {
    error = `${e.name}: ${e.message}`;
  }
  const s = summarize(a, topicPartitions, produced, errors, consumed, produceMs, consumeMs, error);
  process.stdout.write(JSON.stringify(s) + '\n');
  process.exitCode = s.ok ? 0 : 1;
}

main();
