//! `stratus user create|delete|list`: the SASL/SCRAM users Kafka clients
//! authenticate as (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), over the gateway's
//! `Users` service. The credential (salt, iterations, StoredKey, ServerKey)
//! is derived here; the password never leaves this process.

use std::io::BufRead;

use stratus_kafka::sasl::{ScramCredential, ScramMechanism};
use stratus_proto::v1::users_client::UsersClient;
use stratus_proto::v1::{
    DeleteScramUserRequest, ListScramUsersRequest, PutScramCredentialRequest,
    ScramCredential as WireCredential, ScramMechanism as WireMechanism,
};
use tonic::transport::Channel;

use crate::client::{ServerArgs, status};

/// Where `create` reads the password when `--password-stdin` is not given.
const PASSWORD_ENV: &str = "STRATUS_USER_PASSWORD";

#[derive(Debug, clap::Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user, or replace its password for one mechanism. The
    /// password comes from standard input (`--password-stdin`, first line)
    /// or from STRATUS_USER_PASSWORD. A PLAIN login checks the user's
    /// SCRAM-SHA-512 credential, else its SCRAM-SHA-256 one.
    Create {
        name: String,
        /// The SCRAM mechanism of the credential.
        #[arg(long, value_enum, default_value = "scram-sha-512")]
        mechanism: Mechanism,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// PBKDF2 iterations, 4096 to 16384.
        #[arg(long, default_value_t = stratus_kafka::limits::DEFAULT_SCRAM_ITERATIONS)]
        iterations: u32,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete a user's credentials (one mechanism's with --mechanism).
    /// Connections it already authenticated last until their session ends
    /// (`kafka.sasl.max_session_lifetime`).
    Delete {
        name: String,
        #[arg(long, value_enum)]
        mechanism: Option<Mechanism>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List users and the mechanisms and iterations of their credentials.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mechanism {
    #[value(name = "scram-sha-256")]
    ScramSha256,
    #[value(name = "scram-sha-512")]
    ScramSha512,
}

impl Mechanism {
    fn scram(self) -> ScramMechanism {
        match self {
            Self::ScramSha256 => ScramMechanism::Sha256,
            Self::ScramSha512 => ScramMechanism::Sha512,
        }
    }

    fn wire(self) -> WireMechanism {
        match self {
            Self::ScramSha256 => WireMechanism::Sha256,
            Self::ScramSha512 => WireMechanism::Sha512,
        }
    }
}

async fn client(server: &ServerArgs) -> anyhow::Result<UsersClient<Channel>> {
    Ok(UsersClient::new(server.channel().await?))
}

pub(crate) async fn run(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            name,
            mechanism,
            password_stdin,
            iterations,
            server,
        } => {
            let password = password(password_stdin)?;
            let credential =
                ScramCredential::with_iterations(mechanism.scram(), &password, iterations)?;
            client(&server)
                .await?
                .put_scram_credential(PutScramCredentialRequest {
                    user: name.clone(),
                    mechanism: mechanism.wire() as i32,
                    credential: Some(WireCredential {
                        salt: credential.salt.clone().into(),
                        iterations: credential.iterations,
                        stored_key: credential.stored_key.clone().into(),
                        server_key: credential.server_key.clone().into(),
                    }),
                })
                .await
                .map_err(status)?;
            println!("created user {name} ({})", mechanism.scram());
            Ok(())
        }
        UserCommand::Delete {
            name,
            mechanism,
            server,
        } => {
            let deleted = client(&server)
                .await?
                .delete_scram_user(DeleteScramUserRequest {
                    user: name.clone(),
                    mechanism: mechanism.map_or(WireMechanism::Unspecified, Mechanism::wire) as i32,
                })
                .await
                .map_err(status)?
                .into_inner()
                .deleted;
            let names: Vec<&str> = deleted.iter().map(|m| mechanism_name(*m)).collect();
            println!("deleted user {name} ({})", names.join(", "));
            Ok(())
        }
        UserCommand::List { server } => {
            let users = client(&server)
                .await?
                .list_scram_users(ListScramUsersRequest {})
                .await
                .map_err(status)?
                .into_inner()
                .users;
            println!("{:<32} MECHANISMS", "USER");
            for user in users {
                let credentials: Vec<String> = user
                    .credentials
                    .iter()
                    .map(|c| {
                        format!(
                            "{} ({} iterations)",
                            mechanism_name(c.mechanism),
                            c.iterations
                        )
                    })
                    .collect();
                println!("{:<32} {}", user.user, credentials.join(", "));
            }
            Ok(())
        }
    }
}

fn mechanism_name(wire: i32) -> &'static str {
    match WireMechanism::try_from(wire) {
        Ok(WireMechanism::Sha256) => "SCRAM-SHA-256",
        Ok(WireMechanism::Sha512) => "SCRAM-SHA-512",
        _ => "unknown",
    }
}

fn password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        std::env::var(PASSWORD_ENV).map_err(|_| {
            anyhow::anyhow!(
                "no password given: pipe it with --password-stdin \
                 (`printf '%s\\n' \"$PASSWORD\" | stratus user create NAME --password-stdin`) \
                 or set {PASSWORD_ENV}"
            )
        })?
    };
    if password.is_empty() {
        anyhow::bail!("the password is empty; give a non-empty one");
    }
    Ok(password)
}
