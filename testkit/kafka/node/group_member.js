#!/usr/bin/env node
// One consumer-group member with kafkajs, for
// testkit/kafka/python/group_members.py (which starts several and checks
// what they report). It prints one JSON line per event on stdout: "owned"
// with its partitions after every assignment change, "got" with
// [partition, offset] pairs after every batch, "commit_failed", "closed"
// (the Java client's GroupMember.java prints the same). Each batch is
// committed after it is reported, so a committed offset never covers a
// record nobody reported. SIGTERM disconnects (leaving the group).
//
//   node testkit/kafka/node/group_member.js --member NAME --bootstrap H:P \
//       --topic T --group G --assignor roundrobin [--session-ms 6000]
//
// kafkajs's protocol is eager: a rebalance takes every partition away, then
// the join hands out the new assignment. Its one assignor is roundrobin.
// kafkajs is looked up as scenario.js does.
'use strict';

const path = require('path');

const root = path.resolve(__dirname, '..', '..', '..');
const searchPaths = [process.env.KAFKAJS_DIR, path.join(root, 'target', 'node', 'node_modules'), __dirname]
  .filter(Boolean);
const { Kafka, PartitionAssigners, logLevel } = require(require.resolve('kafkajs', { paths: searchPaths }));

function parseArgs(argv) {
  const a = { member: null, bootstrap: null, topic: null, group: null, assignor: 'roundrobin', protocol: 'classic', sessionMs: 6000 };
  const names = { '--member': 'member', '--bootstrap': 'bootstrap', '--topic': 'topic', '--group': 'group', '--assignor': 'assignor', '--protocol': 'protocol', '--session-ms': 'sessionMs' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) usage(`bad option ${argv[i]}`);
    a[key] = key === 'sessionMs' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!a.member || !a.bootstrap || !a.topic || !a.group) usage('--member, --bootstrap, --topic and --group are required');
  if (a.protocol !== 'classic') usage('kafkajs speaks the classic group protocol only');
  if (!Number.isInteger(a.sessionMs) || a.sessionMs <= 0) usage('--session-ms is a positive whole number');
  return a;
}

function usage(msg) {
  process.stderr.write(`group_member.js: ${msg}\n`);
  process.exit(2);
}

function assigners(name) {
  if (name !== 'roundrobin') usage(`kafkajs's one assignor is roundrobin, not ${name}`);
  // kafkajs names it "RoundRobinAssigner"; the protocol name the group agrees
  // on must be Kafka's, so members of other clients can share the group.
  return [({ cluster }) => ({ ...PartitionAssigners.roundRobin({ cluster }), name })];
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const say = (event) => process.stdout.write(`${JSON.stringify({ m: a.member, t: Date.now() / 1000, ...event })}\n`);
  const kafka = new Kafka({ clientId: a.member, brokers: a.bootstrap.split(','), logLevel: logLevel.ERROR });
  const consumer = kafka.consumer({
    groupId: a.group,
    sessionTimeout: a.sessionMs,
    heartbeatInterval: Math.max(100, Math.floor(a.sessionMs / 12)),
    partitionAssigners: assigners(a.assignor),
    allowAutoTopicCreation: false,
  });
  let owned = [];
  consumer.on(consumer.events.REBALANCING, () => {
    owned = [];
    say({ ev: 'owned', parts: owned });
  });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    owned = [...(payload.memberAssignment[a.topic] || [])].sort((x, y) => x - y);
    say({ ev: 'owned', parts: owned });
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await consumer.disconnect().catch(() => {});
    say({ ev: 'closed' });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  await consumer.connect();
  await consumer.subscribe({ topics: [a.topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, isRunning, isStale }) => {
      if (!isRunning() || isStale() || batch.messages.length === 0) return;
      say({ ev: 'got', recs: batch.messages.map((m) => [batch.partition, Number(m.offset)]) });
      const last = batch.messages[batch.messages.length - 1].offset;
      resolveOffset(last);
      try {
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last) + 1) }]);
      } catch (e) {
        // A commit refused by a rebalance: the next owner reads the records
        // again, which the check allows.
        say({ ev: 'commit_failed', error: String(e) });
      }
    },
  });
}

main().catch((e) => {
  process.stderr.write(`group_member.js: ${e.stack || e}\n`);
  process.exit(1);
});
