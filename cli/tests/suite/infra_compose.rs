//! Checks the local stack in `infra/` (docker-compose.yml, Dockerfile, scripts)
//! against the code, without Docker: service names, ports, `STRATUS_*` keys,
//! the WAL bucket, the FoundationDB cluster file volume, the image build and
//! the `stratus` command lines. A renamed config field, flag or service fails
//! here instead of when someone runs `docker compose up`. The `postgres`
//! profile's cluster is checked in `infra_compose/postgres.rs`.

mod postgres;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_norway::Value;
use stratus_cli::settings::ServerSettings;
use stratus_gateway::GatewayConfig;

const COMPOSE: &str = "infra/docker-compose.yml";
const DOCKERFILE: &str = "infra/Dockerfile";

/// Top-level settings the compose file relies on (fields of
/// `stratus_cli::settings::ServerSettings`). If one is renamed, this test
/// fails and names it.
const SERVER_SETTINGS_USED: &[&str] = &[
    "data_dir",
    "metadata",
    "wal",
    "log_format",
    "gateway",
    "insecure",
];

/// `AWS_*` variables that object_store's `AmazonS3Builder::from_env` turns into
/// settings (object_store 0.14, src/aws/builder.rs, `AmazonS3ConfigKey::from_str`
/// on the lower-cased name); anything else is silently ignored by it.
const OBJECT_STORE_AWS_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_BUCKET",
    "AWS_BUCKET_NAME",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT",
    "AWS_ENDPOINT_URL_S3",
    "AWS_SESSION_TOKEN",
    "AWS_TOKEN",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
    "AWS_S3_EXPRESS",
    "AWS_IMDSV1_FALLBACK",
    "AWS_METADATA_ENDPOINT",
    "AWS_UNSIGNED_PAYLOAD",
    "AWS_CHECKSUM_ALGORITHM",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_ENDPOINT_URL_STS",
    "AWS_SKIP_SIGNATURE",
    "AWS_COPY_IF_NOT_EXISTS",
    "AWS_CONDITIONAL_PUT",
    "AWS_DISABLE_TAGGING",
    "AWS_DISABLE_BULK_DELETE",
    "AWS_REQUEST_PAYER",
    "AWS_ALLOW_HTTP",
    "AWS_SERVER_SIDE_ENCRYPTION",
    "AWS_SSE_KMS_KEY_ID",
    "AWS_SSE_BUCKET_KEY_ENABLED",
    "AWS_SSE_CUSTOMER_KEY_BASE64",
];

// ---------------------------------------------------------------------------
// Reading the files
// ---------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent directory")
        .to_path_buf()
}

fn infra_dir() -> PathBuf {
    repo_root().join("infra")
}

fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {relative} ({}): {e}", path.display()))
}

/// A scalar as compose sees it in environment values, args and ports.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn contains_merge_key(value: &Value) -> bool {
    match value {
        Value::Mapping(m) => m.contains_key("<<") || m.values().any(contains_merge_key),
        Value::Sequence(s) => s.iter().any(contains_merge_key),
        Value::Tagged(t) => contains_merge_key(&t.value),
        _ => false,
    }
}

struct Compose {
    root: Value,
}

impl Compose {
    fn load() -> Self {
        let text = read(COMPOSE);
        let mut root: Value = serde_norway::from_str(&text)
            .unwrap_or_else(|e| panic!("{COMPOSE} is not valid YAML: {e}"));
        // Aliases are expanded by the parser; `<<` merges are applied here. A
        // merged anchor can itself contain `<<` (x-gateway merges
        // x-stratus-image), which one pass leaves behind, so repeat.
        for _ in 0..8 {
            if !contains_merge_key(&root) {
                break;
            }
            root.apply_merge()
                .unwrap_or_else(|e| panic!("{COMPOSE}: bad `<<` merge key: {e}"));
        }
        assert!(
            !contains_merge_key(&root),
            "{COMPOSE}: `<<` merge keys nested too deep to resolve"
        );
        Self { root }
    }

    fn services(&self) -> Vec<Service<'_>> {
        let services = self.root["services"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{COMPOSE} has no `services:` mapping"));
        services
            .iter()
            .map(|(name, value)| Service {
                name: name.as_str().expect("service names are strings").to_owned(),
                value,
            })
            .collect()
    }

    fn service(&self, name: &str) -> Service<'_> {
        self.services()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "{COMPOSE} has no service `{name}` (services: {}); the stack and this test \
                     expect it",
                    self.service_names()
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    fn service_names(&self) -> BTreeSet<String> {
        self.services().into_iter().map(|s| s.name).collect()
    }

    /// Services running `stratus gateway`.
    fn gateways(&self) -> Vec<Service<'_>> {
        let gateways: Vec<_> = self
            .services()
            .into_iter()
            .filter(|s| s.stratus_subcommand().as_deref() == Some("gateway"))
            .collect();
        assert!(
            !gateways.is_empty(),
            "{COMPOSE} has no service whose command is `stratus gateway ...`"
        );
        gateways
    }

    fn declared_volumes(&self) -> BTreeSet<String> {
        self.root["volumes"]
            .as_mapping()
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

struct Service<'a> {
    name: String,
    value: &'a Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    source: String,
    target: String,
}

impl Mount {
    /// A named volume, as opposed to a bind mount of a host path.
    fn is_named_volume(&self) -> bool {
        !self.source.is_empty()
            && !self.source.starts_with('.')
            && !self.source.starts_with('/')
            && !self.source.starts_with('~')
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Port {
    host: Option<u16>,
    container: u16,
}

impl Service<'_> {
    fn field(&self, key: &str) -> Option<&Value> {
        self.value.get(key).filter(|v| !v.is_null())
    }

    /// `environment:` in map or `KEY=VALUE` list form.
    fn environment(&self) -> BTreeMap<String, String> {
        match self.field("environment") {
            None => BTreeMap::new(),
            Some(Value::Mapping(m)) => m
                .iter()
                .map(|(k, v)| {
                    let key = scalar(k).expect("environment keys are scalars");
                    let value = scalar(v).unwrap_or_else(|| {
                        panic!("{}: environment {key} must be a scalar", self.name)
                    });
                    (key, value)
                })
                .collect(),
            Some(Value::Sequence(items)) => items
                .iter()
                .map(|item| {
                    let item = scalar(item).expect("environment entries are strings");
                    match item.split_once('=') {
                        Some((k, v)) => (k.to_owned(), v.to_owned()),
                        None => (item, String::new()),
                    }
                })
                .collect(),
            Some(other) => panic!("{}: unexpected environment {other:?}", self.name),
        }
    }

    fn env(&self, key: &str) -> Option<String> {
        self.environment().remove(key)
    }

    /// A command or entrypoint as an argument list (string form split at spaces,
    /// as compose does for the exec form it builds).
    fn args(&self, key: &str) -> Vec<String> {
        match self.field(key) {
            None => Vec::new(),
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Sequence(items)) => items
                .iter()
                .map(|v| scalar(v).unwrap_or_else(|| panic!("{}: {key} item {v:?}", self.name)))
                .collect(),
            Some(other) => panic!("{}: unexpected {key} {other:?}", self.name),
        }
    }

    fn command(&self) -> Vec<String> {
        self.args("command")
    }

    /// Entrypoint and command as one text, for matching shell scripts.
    fn script_text(&self) -> String {
        let mut all = self.args("entrypoint");
        all.extend(self.command());
        all.join(" ")
    }

    /// `gateway` for `stratus gateway ...`.
    fn stratus_subcommand(&self) -> Option<String> {
        let command = self.command();
        (command.first().map(String::as_str) == Some("stratus"))
            .then(|| command.get(1).cloned())
            .flatten()
    }

    /// The value of `--flag VALUE` or `--flag=VALUE` in the command.
    fn flag(&self, flag: &str) -> Option<String> {
        let command = self.command();
        let prefixed = format!("{flag}=");
        command.iter().enumerate().find_map(|(i, arg)| {
            if arg == flag {
                command.get(i + 1).cloned()
            } else {
                arg.strip_prefix(&prefixed).map(str::to_owned)
            }
        })
    }

    /// A server setting from its flag, else its `STRATUS_` variable.
    fn setting(&self, flag: &str, env: &str) -> Option<String> {
        self.flag(flag).or_else(|| self.env(env))
    }

    /// `depends_on:` as (service, condition), list form meaning service_started.
    fn depends_on(&self) -> Vec<(String, String)> {
        match self.field("depends_on") {
            None => Vec::new(),
            Some(Value::Sequence(items)) => items
                .iter()
                .map(|v| (scalar(v).unwrap(), "service_started".to_owned()))
                .collect(),
            Some(Value::Mapping(m)) => m
                .iter()
                .map(|(k, v)| {
                    let condition = v
                        .get("condition")
                        .and_then(Value::as_str)
                        .unwrap_or("service_started");
                    (scalar(k).unwrap(), condition.to_owned())
                })
                .collect(),
            Some(other) => panic!("{}: unexpected depends_on {other:?}", self.name),
        }
    }

    fn depends_on_condition(&self, service: &str) -> Option<String> {
        self.depends_on()
            .into_iter()
            .find(|(name, _)| name == service)
            .map(|(_, condition)| condition)
    }

    /// `volumes:` in short (`source:target[:mode]`) or long syntax.
    fn mounts(&self) -> Vec<Mount> {
        let Some(items) = self.field("volumes").and_then(Value::as_sequence) else {
            return Vec::new();
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(short) => {
                    let parts: Vec<&str> = short.split(':').collect();
                    match parts.as_slice() {
                        [target] => Mount {
                            source: String::new(),
                            target: (*target).to_owned(),
                        },
                        [source, target, ..] => Mount {
                            source: (*source).to_owned(),
                            target: (*target).to_owned(),
                        },
                        [] => unreachable!(),
                    }
                }
                Value::Mapping(_) => Mount {
                    source: item
                        .get("source")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    target: item
                        .get("target")
                        .and_then(Value::as_str)
                        .unwrap_or_else(|| panic!("{}: volume without target", self.name))
                        .to_owned(),
                },
                other => panic!("{}: unexpected volume {other:?}", self.name),
            })
            .collect()
    }

    /// `ports:` in short (`[ip:]host:container[/proto]`) or long syntax.
    fn ports(&self) -> Vec<Port> {
        let Some(items) = self.field("ports").and_then(Value::as_sequence) else {
            return Vec::new();
        };
        let number = |s: &str| -> u16 {
            s.parse().unwrap_or_else(|_| {
                panic!(
                    "{}: port {s:?} is not a single port number (ranges are not used here)",
                    self.name
                )
            })
        };
        items
            .iter()
            .map(|item| match item {
                Value::Mapping(_) => Port {
                    host: item.get("published").and_then(scalar).map(|p| number(&p)),
                    container: number(
                        &item
                            .get("target")
                            .and_then(scalar)
                            .unwrap_or_else(|| panic!("{}: port without target", self.name)),
                    ),
                },
                other => {
                    let short = scalar(other)
                        .unwrap_or_else(|| panic!("{}: unexpected port {other:?}", self.name));
                    let short = short.split('/').next().unwrap_or_default();
                    let parts: Vec<&str> = short.rsplitn(3, ':').collect();
                    match parts.as_slice() {
                        [container] => Port {
                            host: None,
                            container: number(container),
                        },
                        [container, host, ..] => Port {
                            host: Some(number(host)),
                            container: number(container),
                        },
                        [] => unreachable!(),
                    }
                }
            })
            .collect()
    }

    fn profiles(&self) -> Vec<String> {
        self.field("profiles")
            .and_then(Value::as_sequence)
            .map(|items| items.iter().filter_map(scalar).collect())
            .unwrap_or_default()
    }

    fn image(&self) -> Option<String> {
        self.field("image").and_then(scalar)
    }

    /// (context, dockerfile, build args) of a `build:` section.
    fn build(&self) -> Option<(String, String, BTreeMap<String, String>)> {
        let build = self.field("build")?;
        if let Some(context) = build.as_str() {
            return Some((context.to_owned(), "Dockerfile".to_owned(), BTreeMap::new()));
        }
        let context = build
            .get("context")
            .and_then(Value::as_str)
            .unwrap_or(".")
            .to_owned();
        let dockerfile = build
            .get("dockerfile")
            .and_then(Value::as_str)
            .unwrap_or("Dockerfile")
            .to_owned();
        let args = match build.get("args") {
            Some(Value::Mapping(m)) => m
                .iter()
                .map(|(k, v)| (scalar(k).unwrap(), scalar(v).unwrap_or_default()))
                .collect(),
            Some(Value::Sequence(items)) => items
                .iter()
                .filter_map(scalar)
                .map(|item| match item.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v.to_owned()),
                    None => (item, String::new()),
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        Some((context, dockerfile, args))
    }

    fn has_healthcheck(&self) -> bool {
        self.field("healthcheck").is_some_and(|h| {
            h.get("disable").and_then(Value::as_bool) != Some(true)
                && h.get("test").is_some_and(|t| {
                    scalar(t).as_deref() != Some("NONE")
                        && t.as_sequence()
                            .and_then(|s| s.first())
                            .and_then(Value::as_str)
                            != Some("NONE")
                })
        })
    }

    /// `healthcheck.test` as an exec argument list when it is `["CMD", ...]`.
    fn healthcheck_exec(&self) -> Option<Vec<String>> {
        let test = self.field("healthcheck")?.get("test")?.as_sequence()?;
        let mut args: Vec<String> = test.iter().filter_map(scalar).collect();
        (args.first().map(String::as_str) == Some("CMD")).then(|| args.split_off(1))
    }
}

// ---------------------------------------------------------------------------
// Facts from the code
// ---------------------------------------------------------------------------

/// `STRATUS_*` variables the server reads: what `stratus config env` prints,
/// derived from `ServerSettings::default()` serialized the way the settings
/// layer's `Env::prefixed("STRATUS_").split("__")` nests them
/// (`STRATUS_<FIELD>`, `STRATUS_<FIELD>__<SUBFIELD>`, ...).
fn valid_stratus_env_keys() -> BTreeSet<String> {
    let defaults =
        serde_json::to_value(ServerSettings::default()).expect("ServerSettings serializes");
    let fields = defaults
        .as_object()
        .expect("ServerSettings serializes to a JSON object");
    for used in SERVER_SETTINGS_USED {
        assert!(
            fields.contains_key(*used),
            "ServerSettings has no field `{used}` any more (fields: {:?}); update \
             infra/docker-compose.yml (STRATUS_{} / --{}) and SERVER_SETTINGS_USED",
            fields.keys().collect::<Vec<_>>(),
            used.to_ascii_uppercase(),
            used.replace('_', "-")
        );
    }
    stratus_cli::config_env::env_names()
        .expect("the settings' STRATUS_* names")
        .into_iter()
        .collect()
}

/// `ARG NAME=default` values of a Dockerfile.
fn dockerfile_args(dockerfile: &str) -> BTreeMap<String, String> {
    dockerfile
        .lines()
        .filter_map(|line| line.trim().strip_prefix("ARG "))
        .filter_map(|arg| arg.trim().split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

/// Replaces `${NAME}` and `$NAME` with Dockerfile ARG defaults.
fn expand_args(text: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (name, value) in args {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    out
}

/// `rust-version` under `[workspace.package]` in the workspace Cargo.toml.
fn workspace_rust_version() -> String {
    let manifest = read("Cargo.toml");
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package && let Some(rest) = line.strip_prefix("rust-version") {
            return rest
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"')
                .to_owned();
        }
    }
    panic!("Cargo.toml has no rust-version under [workspace.package]")
}

/// A `key = "value"` in a section of a Cargo.toml (first match).
fn manifest_value(manifest: &str, section: &str, key: &str) -> Option<String> {
    let mut in_section = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == section;
        } else if in_section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// Feature names declared in a Cargo.toml's `[features]`.
fn manifest_features(manifest: &str) -> BTreeMap<String, String> {
    let mut in_features = false;
    let mut features = BTreeMap::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_features = line == "[features]";
        } else if in_features
            && !line.starts_with('#')
            && let Some((k, v)) = line.split_once('=')
        {
            features.insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    features
}

/// The `cargo build` command line(s) of a Dockerfile, continuation lines joined.
fn cargo_build_lines(dockerfile: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    joined
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.find("cargo build").map(|at| line[at..].to_owned()))
        .map(|line| {
            // Up to the end of this shell command.
            let end = ["&&", ";", "||"]
                .iter()
                .filter_map(|sep| line.find(sep))
                .min()
                .unwrap_or(line.len());
            line[..end].trim().to_owned()
        })
        .collect()
}

fn stratus_image_services(compose: &Compose) -> Vec<Service<'_>> {
    compose
        .services()
        .into_iter()
        .filter(|s| {
            s.build()
                .is_some_and(|(_, dockerfile, _)| dockerfile.ends_with("infra/Dockerfile"))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn the_stack_has_its_services() {
    let compose = Compose::load();
    let names = compose.service_names();
    for expected in [
        "minio",
        "minio-init",
        "foundationdb",
        "foundationdb-init",
        "compactor",
    ] {
        assert!(
            names.contains(expected),
            "{COMPOSE} lacks the service `{expected}` (has: {names:?}); infra/README.md \
             describes it"
        );
    }
    compose.gateways();
    let compactor = compose.service("compactor");
    assert!(
        compactor.profiles().is_empty(),
        "the compactor service must start with `docker compose up`: without it WAL objects \
         pile up and retention never runs"
    );
}

#[test]
fn depends_on_names_exist_and_conditions_can_be_met() {
    let compose = Compose::load();
    let names = compose.service_names();
    let conditions = [
        "service_started",
        "service_healthy",
        "service_completed_successfully",
    ];
    let mut problems = Vec::new();
    for service in compose.services() {
        for (dependency, condition) in service.depends_on() {
            if !names.contains(&dependency) {
                problems.push(format!(
                    "`{}` depends_on `{dependency}`, which is not a service (services: {}); \
                     fix the name or add the service",
                    service.name,
                    names.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
                continue;
            }
            let target = compose.service(&dependency);
            if !conditions.contains(&condition.as_str()) {
                problems.push(format!(
                    "`{}` depends_on `{dependency}` with condition `{condition}`; use one of \
                     {conditions:?}",
                    service.name
                ));
            }
            if condition == "service_healthy" && !target.has_healthcheck() {
                problems.push(format!(
                    "`{}` waits for `{dependency}` to be healthy, but `{dependency}` has no \
                     healthcheck, so it never will; add one or use service_started",
                    service.name
                ));
            }
            if condition == "service_completed_successfully" {
                let restart = target.field("restart").and_then(scalar);
                if matches!(restart.as_deref(), Some("always" | "unless-stopped")) {
                    problems.push(format!(
                        "`{}` waits for one-shot `{dependency}` to complete, but it has \
                         restart: {}; set restart: \"no\"",
                        service.name,
                        restart.unwrap_or_default()
                    ));
                }
            }
            if service.profiles().is_empty() && !target.profiles().is_empty() {
                problems.push(format!(
                    "`{}` (always started) depends on `{dependency}`, which only runs with \
                     profile {:?}; `docker compose up` would fail",
                    service.name,
                    target.profiles()
                ));
            }
        }
    }
    // No cycles: compose refuses to start a stack with one.
    fn visit(
        compose: &Compose,
        name: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        problems: &mut Vec<String>,
    ) {
        if done.contains(name) {
            return;
        }
        if let Some(at) = path.iter().position(|n| n == name) {
            problems.push(format!(
                "depends_on cycle: {} -> {name}",
                path[at..].join(" -> ")
            ));
            return;
        }
        path.push(name.to_owned());
        let service = compose.service(name);
        for (dependency, _) in service.depends_on() {
            if compose.service_names().contains(&dependency) {
                visit(compose, &dependency, path, done, problems);
            }
        }
        path.pop();
        done.insert(name.to_owned());
    }
    let mut done = BTreeSet::new();
    for name in &names {
        visit(&compose, name, &mut Vec::new(), &mut done, &mut problems);
    }
    assert!(
        problems.is_empty(),
        "{COMPOSE}:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn gateways_listen_on_the_published_port_7400() {
    let compose = Compose::load();
    let mut host_ports: BTreeMap<u16, String> = BTreeMap::new();
    for service in compose.services() {
        for port in service.ports() {
            if let Some(host) = port.host
                && let Some(other) = host_ports.insert(host, service.name.clone())
            {
                panic!(
                    "{COMPOSE}: host port {host} is published by both `{other}` and `{}`; \
                     give one of them another host port",
                    service.name
                );
            }
        }
    }
    for gateway in compose.gateways() {
        let listen = gateway
            .setting("--listen", "STRATUS_GATEWAY__LISTEN")
            .unwrap_or_else(|| GatewayConfig::default().listen.to_string());
        let listen: SocketAddr = listen.parse().unwrap_or_else(|e| {
            panic!(
                "{COMPOSE}: `{}` listens on {listen:?}, not an address: {e}",
                gateway.name
            )
        });
        assert!(
            listen.ip().is_unspecified(),
            "{COMPOSE}: `{}` listens on {listen}; inside a container that is unreachable \
             through a published port. Set STRATUS_GATEWAY__LISTEN=0.0.0.0:{}",
            gateway.name,
            listen.port()
        );
        // The exposure check: 0.0.0.0 without TLS and client certificates
        // starts only when marked insecure.
        let insecure = gateway.env("STRATUS_INSECURE");
        let mutual_tls = gateway.env("STRATUS_GATEWAY__TLS__CLIENT_CA").is_some();
        assert!(
            insecure.as_deref() == Some("true") || mutual_tls,
            "{COMPOSE}: `{}` listens on {listen} without gateway.tls.client_ca; it would refuse \
             to start. Set STRATUS_INSECURE: \"true\" (a trusted network) or TLS",
            gateway.name
        );
        let ports = gateway.ports();
        assert!(
            !ports.is_empty(),
            "{COMPOSE}: `{}` publishes no port; add `ports: [\"7400:{}\"]`",
            gateway.name,
            listen.port()
        );
        for port in ports {
            assert_eq!(
                port.container,
                listen.port(),
                "{COMPOSE}: `{}` publishes container port {} but the gateway listens on {}; \
                 make them agree",
                gateway.name,
                port.container,
                listen.port()
            );
        }
        if let Some(healthcheck) = gateway.healthcheck_exec()
            && let Some(server) = healthcheck.iter().position(|a| a == "--server")
        {
            let url = &healthcheck[server + 1];
            assert!(
                url.ends_with(&format!(":{}", listen.port())),
                "{COMPOSE}: `{}`'s healthcheck asks {url}, but the gateway listens on port {}",
                gateway.name,
                listen.port()
            );
        }
    }
    let on_7400 = host_ports.get(&7400).cloned();
    assert!(
        on_7400
            .as_deref()
            .is_some_and(|name| compose.gateways().iter().any(|g| g.name == name)),
        "{COMPOSE}: host port 7400 (the CLI's default --server) must be a gateway's; it is {}",
        on_7400.unwrap_or_else(|| "not published".to_owned())
    );
}

#[test]
fn gateway_environment_uses_real_config_keys() {
    let compose = Compose::load();
    let valid = valid_stratus_env_keys();
    for gateway in compose.gateways() {
        let environment = gateway.environment();
        let mut gateway_fields = serde_json::Map::new();
        for (key, value) in &environment {
            if !key.starts_with("STRATUS_") {
                continue;
            }
            assert!(
                valid.contains(key),
                "{COMPOSE}: `{}` sets {key}, which the server does not read. Valid keys \
                 (`stratus config env`: STRATUS_<FIELD> of ServerSettings in cli/src/settings.rs, \
                 STRATUS_GATEWAY__<FIELD> of GatewayConfig in gateway/src/config.rs):\n  {}\n\
                 Rename it after the config field.",
                gateway.name,
                valid.iter().cloned().collect::<Vec<_>>().join("\n  ")
            );
            if let Some(field) = key.strip_prefix("STRATUS_GATEWAY__") {
                // Like figment's Env provider: numbers and booleans are typed,
                // everything else is a string.
                let typed = serde_json::from_str::<serde_json::Value>(value)
                    .ok()
                    .filter(|v| v.is_number() || v.is_boolean())
                    .unwrap_or_else(|| serde_json::Value::String(value.clone()));
                match field.to_ascii_lowercase().split_once("__") {
                    Some((table, leaf)) => {
                        let nested = gateway_fields
                            .entry(table.to_owned())
                            .or_insert_with(|| serde_json::Value::Object(Default::default()));
                        if let Some(nested) = nested.as_object_mut() {
                            nested.insert(leaf.to_owned(), typed);
                        }
                    }
                    None => {
                        gateway_fields.insert(field.to_ascii_lowercase(), typed);
                    }
                }
            }
        }
        let config: GatewayConfig =
            serde_json::from_value(serde_json::Value::Object(gateway_fields)).unwrap_or_else(|e| {
                panic!(
                    "{COMPOSE}: `{}`'s STRATUS_GATEWAY__* values do not form a gateway \
                         config: {e}",
                    gateway.name
                )
            });
        config.validate().unwrap_or_else(|e| {
            panic!("{COMPOSE}: `{}`: {e}", gateway.name);
        });
        if let Some(format) = environment.get("STRATUS_LOG_FORMAT") {
            assert!(
                ["text", "json"].contains(&format.as_str()),
                "{COMPOSE}: `{}` sets STRATUS_LOG_FORMAT={format}; use text or json",
                gateway.name
            );
        }
        if let Some(dir) = environment.get("STRATUS_DATA_DIR") {
            assert!(
                dir.starts_with('/'),
                "{COMPOSE}: `{}` sets STRATUS_DATA_DIR={dir}; use an absolute path",
                gateway.name
            );
        }
    }
    // Gateways started together (one profile, or none) are one cluster and
    // must agree on everything that is shared state.
    let mut clusters: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    for g in compose.gateways() {
        clusters
            .entry(g.profiles())
            .or_default()
            .insert(cluster_identity(&g));
    }
    for (profiles, identities) in &clusters {
        assert_eq!(
            identities.len(),
            1,
            "{COMPOSE}: the gateways of profiles {profiles:?} must share one cluster, metadata \
             store and WAL tier: {identities:?}"
        );
    }
}

/// What the processes of one cluster must agree on: its name, metadata store
/// and tiers.
fn cluster_identity(service: &Service<'_>) -> String {
    format!(
        "cluster={} metadata={} wal={} segments={}",
        service
            .env("STRATUS_GATEWAY__CLUSTER")
            .unwrap_or_else(|| GatewayConfig::default().cluster),
        service
            .setting("--metadata", "STRATUS_METADATA")
            .unwrap_or_default(),
        service.setting("--wal", "STRATUS_WAL").unwrap_or_default(),
        service
            .setting("--segments", "STRATUS_SEGMENTS")
            .unwrap_or_default()
    )
}

#[test]
fn the_wal_bucket_is_created_by_minio_init_and_reachable() {
    let compose = Compose::load();
    let minio = compose.service("minio");
    let minio_init = compose.service("minio-init");
    let minio_env = minio.environment();
    let init_script = minio_init.script_text();
    let mut checked = 0;
    for service in compose.services() {
        let Some(wal) = service.setting("--wal", "STRATUS_WAL") else {
            continue;
        };
        checked += 1;
        let url = url_parts(&wal).unwrap_or_else(|| {
            panic!(
                "{COMPOSE}: `{}` uses WAL tier {wal:?}; the stack expects s3://BUCKET/PREFIX",
                service.name
            )
        });
        assert_eq!(
            url.scheme, "s3",
            "{COMPOSE}: `{}` uses WAL tier {wal:?}; use s3://stratus/wal (MinIO)",
            service.name
        );
        assert!(
            !url.path.trim_matches('/').is_empty(),
            "{COMPOSE}: `{}`'s WAL tier {wal:?} has no prefix; use s3://{}/wal so segments \
             can live beside it under segments/",
            service.name,
            url.host
        );
        let bucket = url.host;
        let creates_bucket = init_script.contains("mc mb")
            && init_script
                .split_whitespace()
                .any(|word| word.trim_matches('"').ends_with(&format!("/{bucket}")));
        assert!(
            creates_bucket,
            "{COMPOSE}: `{}` writes to bucket `{bucket}`, but minio-init does not create it \
             (`mc mb --ignore-existing local/{bucket}`); its script is: {init_script}",
            service.name
        );
        assert_eq!(
            service.depends_on_condition("minio-init").as_deref(),
            Some("service_completed_successfully"),
            "{COMPOSE}: `{}` must wait for minio-init (condition: \
             service_completed_successfully): a gateway probes its WAL bucket at start",
            service.name
        );

        // The S3 settings reach MinIO.
        let environment = service.environment();
        for key in environment.keys().filter(|k| k.starts_with("AWS_")) {
            assert!(
                OBJECT_STORE_AWS_ENV.contains(&key.as_str()),
                "{COMPOSE}: `{}` sets {key}, which object_store's AmazonS3Builder::from_env \
                 ignores; known names: {OBJECT_STORE_AWS_ENV:?}",
                service.name
            );
        }
        let endpoint = environment
            .get("AWS_ENDPOINT_URL")
            .or_else(|| environment.get("AWS_ENDPOINT"))
            .unwrap_or_else(|| {
                panic!(
                    "{COMPOSE}: `{}` has no AWS_ENDPOINT_URL, so its s3:// tier would go to AWS \
                     instead of MinIO; set AWS_ENDPOINT_URL=http://minio:9000",
                    service.name
                )
            });
        let endpoint_url = url_parts(endpoint)
            .unwrap_or_else(|| panic!("{COMPOSE}: AWS endpoint {endpoint:?} is not a URL"));
        assert_eq!(
            endpoint_url.host, "minio",
            "{COMPOSE}: `{}`'s S3 endpoint {endpoint} must be the minio service",
            service.name
        );
        let port = endpoint_url.port.unwrap_or(80);
        assert!(
            minio.ports().iter().any(|p| p.container == port),
            "{COMPOSE}: `{}`'s S3 endpoint {endpoint} uses port {port}, which minio does not \
             serve (its ports: {:?})",
            service.name,
            minio.ports()
        );
        if endpoint_url.scheme == "http" {
            assert_eq!(
                environment.get("AWS_ALLOW_HTTP").map(String::as_str),
                Some("true"),
                "{COMPOSE}: `{}` talks plain http to {endpoint}; object_store refuses that \
                 unless AWS_ALLOW_HTTP=true",
                service.name
            );
        }
        assert!(
            matches!(
                environment
                    .get("AWS_VIRTUAL_HOSTED_STYLE_REQUEST")
                    .map(String::as_str),
                None | Some("false")
            ),
            "{COMPOSE}: `{}` must use path-style requests with MinIO \
             (AWS_VIRTUAL_HOSTED_STYLE_REQUEST=false or unset)",
            service.name
        );
        assert!(
            environment.contains_key("AWS_REGION")
                || environment.contains_key("AWS_DEFAULT_REGION"),
            "{COMPOSE}: `{}` needs AWS_REGION (any value, e.g. us-east-1, for MinIO)",
            service.name
        );
        for (aws, minio_key) in [
            ("AWS_ACCESS_KEY_ID", "MINIO_ROOT_USER"),
            ("AWS_SECRET_ACCESS_KEY", "MINIO_ROOT_PASSWORD"),
        ] {
            assert_eq!(
                environment.get(aws),
                minio_env.get(minio_key),
                "{COMPOSE}: `{}`'s {aws} must equal minio's {minio_key}",
                service.name
            );
        }
    }
    assert!(
        checked > 0,
        "{COMPOSE}: no service sets --wal / STRATUS_WAL"
    );
}

#[test]
fn the_fdb_cluster_file_is_on_a_volume_shared_with_foundationdb() {
    let compose = Compose::load();
    let declared = compose.declared_volumes();
    let foundationdb = compose.service("foundationdb");
    let init = compose.service("foundationdb-init");
    assert_eq!(
        foundationdb.env("FDB_NETWORKING_MODE").as_deref(),
        Some("container"),
        "{COMPOSE}: foundationdb needs FDB_NETWORKING_MODE=container so other containers can \
         reach it"
    );
    let mut checked = 0;
    for service in compose.services() {
        let Some(metadata) = service.setting("--metadata", "STRATUS_METADATA") else {
            continue;
        };
        if metadata.starts_with("postgres://") {
            // The `postgres` profile; infra_compose/postgres.rs checks it.
            continue;
        }
        checked += 1;
        let cluster_file = metadata.strip_prefix("fdb://").unwrap_or_else(|| {
            panic!(
                "{COMPOSE}: `{}` uses metadata {metadata:?}; the stack expects \
                 fdb:///path/to/fdb.cluster",
                service.name
            )
        });
        assert!(
            cluster_file.starts_with('/'),
            "{COMPOSE}: `{}`'s cluster file {cluster_file:?} must be absolute \
             (fdb:///var/fdb/fdb.cluster)",
            service.name
        );
        // The mount holding the file in this service, and the file's path in it.
        let mount = service
            .mounts()
            .into_iter()
            .filter(|m| {
                cluster_file
                    .strip_prefix(m.target.trim_end_matches('/'))
                    .is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|m| m.target.len())
            .unwrap_or_else(|| {
                panic!(
                    "{COMPOSE}: `{}` reads {cluster_file} but mounts no volume there; add \
                     `volumes: [fdb-cluster:/var/fdb:ro]`",
                    service.name
                )
            });
        assert!(
            mount.is_named_volume() && declared.contains(&mount.source),
            "{COMPOSE}: `{}` gets {cluster_file} from {:?}, which is not a named volume \
             declared under top-level `volumes:`",
            service.name,
            mount.source
        );
        let inside = &cluster_file[mount.target.trim_end_matches('/').len()..];
        for writer in [&foundationdb, &init] {
            let shared = writer
                .mounts()
                .into_iter()
                .find(|m| m.source == mount.source)
                .unwrap_or_else(|| {
                    panic!(
                        "{COMPOSE}: `{}` reads the cluster file from volume `{}`, but `{}` does \
                         not mount it; mount it there so they share the file",
                        service.name, mount.source, writer.name
                    )
                });
            let expected = format!("{}{inside}", shared.target.trim_end_matches('/'));
            assert_eq!(
                writer.env("FDB_CLUSTER_FILE").as_deref(),
                Some(expected.as_str()),
                "{COMPOSE}: `{}` must use FDB_CLUSTER_FILE={expected} (volume `{}` at {}), \
                 the file `{}` reads as {cluster_file}; the foundationdb image writes the \
                 cluster file to $FDB_CLUSTER_FILE",
                writer.name,
                mount.source,
                shared.target,
                service.name
            );
        }
        for (dependency, condition) in [
            ("foundationdb-init", "service_completed_successfully"),
            ("foundationdb", "service_healthy"),
        ] {
            assert_eq!(
                service.depends_on_condition(dependency).as_deref(),
                Some(condition),
                "{COMPOSE}: `{}` must depend on {dependency} with condition {condition}: \
                 the database has to exist before it opens metadata",
                service.name
            );
        }
    }
    assert!(
        checked > 0,
        "{COMPOSE}: no service sets --metadata / STRATUS_METADATA"
    );
}

#[test]
fn bind_mounted_files_exist() {
    let compose = Compose::load();
    for service in compose.services() {
        for mount in service.mounts() {
            if mount.source.starts_with('.') {
                let path = infra_dir().join(&mount.source);
                assert!(
                    path.exists(),
                    "{COMPOSE}: `{}` mounts {}, which does not exist ({}); paths are relative \
                     to infra/",
                    service.name,
                    mount.source,
                    path.display()
                );
            }
        }
        // An entrypoint that runs a mounted script must name its mount target.
        for arg in service.args("entrypoint") {
            if arg.ends_with(".sh") {
                assert!(
                    service.mounts().iter().any(|m| m.target == arg),
                    "{COMPOSE}: `{}` runs {arg}, which none of its volumes provides",
                    service.name
                );
            }
        }
    }
}

#[test]
fn foundationdb_versions_agree() {
    let compose = Compose::load();
    let dockerfile = read(DOCKERFILE);
    let mut server_versions = BTreeSet::new();
    for name in ["foundationdb", "foundationdb-init"] {
        let image = compose.service(name).image().unwrap_or_default();
        let version = image
            .strip_prefix("foundationdb/foundationdb:")
            .unwrap_or_else(|| {
                panic!(
                    "{COMPOSE}: `{name}` must use foundationdb/foundationdb:7.3.x, not {image:?}"
                )
            });
        assert!(
            version.starts_with("7.3."),
            "{COMPOSE}: `{name}` uses FoundationDB {version}; the `foundationdb` crate is built \
             with fdb-7_3, so use a 7.3.x image"
        );
        server_versions.insert(version.to_owned());
    }
    assert_eq!(
        server_versions.len(),
        1,
        "{COMPOSE}: foundationdb and foundationdb-init use different images: {server_versions:?}"
    );
    let server = server_versions.into_iter().next().unwrap();
    let default = dockerfile_args(&dockerfile).remove("FDB_VERSION");
    assert_eq!(
        default.as_deref(),
        Some(server.as_str()),
        "{DOCKERFILE}: ARG FDB_VERSION (client library) must default to the server's {server}"
    );
    for service in stratus_image_services(&compose) {
        let (_, _, args) = service.build().unwrap();
        assert_eq!(
            args.get("FDB_VERSION"),
            Some(&server),
            "{COMPOSE}: `{}` must build with FDB_VERSION={server}, the server's version",
            service.name
        );
    }
}

#[test]
fn the_image_builds_the_stratus_binary() {
    let compose = Compose::load();
    let services = stratus_image_services(&compose);
    assert!(
        !services.is_empty(),
        "{COMPOSE}: no service builds infra/Dockerfile"
    );
    let cli_manifest = read("cli/Cargo.toml");
    let package = manifest_value(&cli_manifest, "[package]", "name").unwrap();
    let binary = manifest_value(&cli_manifest, "[[bin]]", "name").unwrap();
    for service in &services {
        let (context, dockerfile, _) = service.build().unwrap();
        let context_dir = infra_dir().join(&context);
        assert!(
            context_dir.join("Cargo.toml").is_file() && context_dir.join("cli").is_dir(),
            "{COMPOSE}: `{}` builds with context {context:?} ({}), which is not the repository \
             root; use `context: ..`",
            service.name,
            context_dir.display()
        );
        assert!(
            context_dir.join(&dockerfile).is_file(),
            "{COMPOSE}: `{}`'s dockerfile {dockerfile:?} does not exist under the context",
            service.name
        );
        if let Some(image) = service.image() {
            let first = services[0].image();
            assert_eq!(
                Some(&image),
                first.as_ref(),
                "{COMPOSE}: services built from infra/Dockerfile must share one image name"
            );
        }
    }

    let dockerfile = read(DOCKERFILE);
    let builds = cargo_build_lines(&dockerfile);
    let build = builds
        .iter()
        .find(|line| {
            line.contains(&format!("-p {package}"))
                || line.contains(&format!("--package {package}"))
        })
        .unwrap_or_else(|| {
            panic!(
                "{DOCKERFILE}: no `cargo build ... -p {package}`; its cargo build lines: \
                 {builds:?}"
            )
        });
    assert!(
        build.contains("--release"),
        "{DOCKERFILE}: build with --release: {build}"
    );
    assert!(
        dockerfile.contains(&format!("target/release/{binary}")),
        "{DOCKERFILE}: copy target/release/{binary} (the [[bin]] of cli/Cargo.toml) into the \
         image"
    );
    // Every feature asked for must exist, or `cargo build` fails in the image.
    let features = manifest_features(&cli_manifest);
    let words: Vec<&str> = build.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        let requested = if *word == "--features" || *word == "-F" {
            words.get(i + 1).copied()
        } else {
            word.strip_prefix("--features=")
        };
        for feature in requested.into_iter().flat_map(|f| f.split(',')) {
            assert!(
                features.contains_key(feature),
                "{DOCKERFILE} builds {package} with feature `{feature}`, which cli/Cargo.toml \
                 does not declare (features: {:?}); add `{feature} = [\"stratus-storage/{feature}\"]` \
                 to its [features] or drop it from the Dockerfile",
                features.keys().collect::<Vec<_>>()
            );
        }
    }
    let dockerignore = read("infra/Dockerfile.dockerignore");
    assert!(
        dockerignore
            .lines()
            .any(|l| l.trim().trim_end_matches('/') == "target"),
        "infra/Dockerfile.dockerignore must exclude target (gigabytes of build output in the \
         build context)"
    );
}

#[test]
fn the_dockerfile_uses_the_workspace_rust_version() {
    let rust_version = workspace_rust_version();
    let dockerfile = read(DOCKERFILE);
    let args = dockerfile_args(&dockerfile);
    let from = dockerfile
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("FROM "))
        .map(|rest| expand_args(rest.split_whitespace().next().unwrap_or_default(), &args))
        .find(|image| image.starts_with("rust:") || image.starts_with("docker.io/library/rust:"))
        .unwrap_or_else(|| panic!("{DOCKERFILE}: no `FROM rust:...` builder stage"));
    let tag = from.rsplit(':').next().unwrap_or_default();
    let version = tag.split('-').next().unwrap_or_default();
    assert!(
        version == rust_version || version.starts_with(&format!("{rust_version}.")),
        "{DOCKERFILE} builds with {from} but Cargo.toml has rust-version = \"{rust_version}\"; \
         use rust:{rust_version}-bookworm (ARG RUST_VERSION={rust_version})"
    );
}

/// `stratus ...` command lines in the compose file and the Dockerfile's CMD
/// name real subcommands and flags: run each with `--help` appended, which
/// clap answers only after accepting every argument before it.
#[test]
fn stratus_command_lines_are_accepted_by_the_cli() {
    let compose = Compose::load();
    let mut lines: Vec<(String, Vec<String>, bool)> = Vec::new();
    for service in stratus_image_services(&compose) {
        let optional = !service.profiles().is_empty();
        let command = service.command();
        if command.first().map(String::as_str) == Some("stratus") {
            lines.push((format!("`{}` command", service.name), command, optional));
        }
        if let Some(check) = service.healthcheck_exec()
            && check.first().map(String::as_str) == Some("stratus")
        {
            lines.push((format!("`{}` healthcheck", service.name), check, optional));
        }
    }
    let dockerfile = read(DOCKERFILE);
    if let Some(cmd) = dockerfile
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("CMD "))
    {
        let cmd: Vec<String> = serde_json::from_str(cmd)
            .unwrap_or_else(|e| panic!("{DOCKERFILE}: write CMD in exec (JSON) form: {e}"));
        lines.push((format!("{DOCKERFILE} CMD"), cmd, false));
    }
    assert!(!lines.is_empty(), "no stratus command lines found");
    for (what, line, optional) in lines {
        let output = Command::new(env!("CARGO_BIN_EXE_stratus"))
            .args(&line[1..])
            .arg("--help")
            .output()
            .expect("run the stratus binary");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if optional && !output.status.success() {
            // Profiled services may name commands that have not landed yet.
            eprintln!(
                "note: {what} `{}` is not accepted yet (service is behind a profile): {stderr}",
                line.join(" ")
            );
            continue;
        }
        assert!(
            output.status.success(),
            "{what} `{}` is rejected by the stratus CLI; fix the subcommand or flag names:\n{stderr}",
            line.join(" ")
        );
    }
}

/// Runs infra/scripts/fdb-init.sh against a fake `fdbcli` that answers like
/// fdbcli 7.3 does, for a fresh server and for one that already has a database.
#[cfg(unix)]
#[test]
fn fdb_init_configures_only_a_fresh_database() {
    use std::os::unix::fs::PermissionsExt;

    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("skipped: no bash");
        return;
    }
    let script = infra_dir().join("scripts/fdb-init.sh");
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fdbcli");
    // State: `configured` exists once `configure new` succeeded.
    std::fs::write(
        &fake,
        r#"#!/usr/bin/env bash
echo "$*" >> "$FAKE_STATE/calls"
case "$*" in
  *"status minimal"*)
    if [[ -e "$FAKE_STATE/configured" ]]; then echo "The database is available."
    else echo "The database is unavailable; type \`status' for more information."; fi ;;
  *"configure new single ssd"*)
    if [[ -e "$FAKE_STATE/configured" ]]; then
      echo "ERROR: Database already exists! To change configuration, don't say \`new'" >&2; exit 1
    fi
    touch "$FAKE_STATE/configured"; echo "Database created" ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
"#,
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster_file = dir.path().join("fdb.cluster");
    std::fs::write(&cluster_file, "docker:docker@10.0.0.2:4500\n").unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = || {
        let output = Command::new("bash")
            .arg(&script)
            .env("PATH", &path)
            .env("FAKE_STATE", dir.path())
            .env("FDB_CLUSTER_FILE", &cluster_file)
            .env("FDB_INIT_ATTEMPTS", "3")
            .output()
            .unwrap();
        let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap_or_default();
        std::fs::remove_file(dir.path().join("calls")).ok();
        (output, calls)
    };

    let (output, calls) = run();
    assert!(
        output.status.success(),
        "fdb-init.sh failed on a fresh server: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        calls.matches("configure new").count(),
        1,
        "fdb-init.sh must configure a fresh server exactly once; fdbcli calls:\n{calls}"
    );

    let (output, calls) = run();
    assert!(
        output.status.success(),
        "fdb-init.sh failed on a server that has a database: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !calls.contains("configure"),
        "fdb-init.sh must not configure an existing database; fdbcli calls:\n{calls}"
    );
}

struct UrlParts {
    scheme: String,
    host: String,
    port: Option<u16>,
    path: String,
}

/// scheme://host[:port]/path, enough for s3:// and http:// URLs here.
fn url_parts(url: &str) -> Option<UrlParts> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port.parse().ok()?)),
        None => (authority, None),
    };
    (!host.is_empty()).then(|| UrlParts {
        scheme: scheme.to_owned(),
        host: host.to_owned(),
        port,
        path: path.to_owned(),
    })
}
