//! The `Users` admin service: SASL/SCRAM credentials in metadata, which
//! every gateway's Kafka listener authenticates against. Credentials arrive
//! derived (salt, iterations, StoredKey, ServerKey); storage checks their
//! shape, and no password ever reaches this service.

use stratus_proto::v1::users_server::Users as UsersApi;
use stratus_proto::v1::{
    DeleteScramUserRequest, DeleteScramUserResponse, ListScramUsersRequest, ListScramUsersResponse,
    PutScramCredentialRequest, PutScramCredentialResponse, ScramCredentialInfo, ScramMechanism,
    ScramUser,
};
use stratus_storage::credentials::{CredentialError, ScramCredentials, ScramRecord};
use tonic::{Request, Response, Status};

use crate::error::GatewayError;

#[derive(Debug)]
pub(crate) struct UsersService(pub(crate) ScramCredentials);

/// The stored mechanism number of a wire mechanism (Kafka's numbers).
fn mechanism_code(mechanism: i32) -> Result<u16, GatewayError> {
    match ScramMechanism::try_from(mechanism) {
        Ok(ScramMechanism::Sha256) => Ok(1),
        Ok(ScramMechanism::Sha512) => Ok(2),
        _ => Err(GatewayError::InvalidArgument(
            "name a SCRAM mechanism: SCRAM_MECHANISM_SHA_256 or SCRAM_MECHANISM_SHA_512".into(),
        )),
    }
}

#[tonic::async_trait]
impl UsersApi for UsersService {
    async fn put_scram_credential(
        &self,
        request: Request<PutScramCredentialRequest>,
    ) -> Result<Response<PutScramCredentialResponse>, Status> {
        let request = request.into_inner();
        let mechanism = mechanism_code(request.mechanism)?;
        let credential = request.credential.ok_or_else(|| {
            GatewayError::InvalidArgument("the request has no credential; send one".into())
        })?;
        let record = ScramRecord {
            salt: credential.salt.to_vec(),
            iterations: credential.iterations,
            stored_key: credential.stored_key.to_vec(),
            server_key: credential.server_key.to_vec(),
        };
        self.0
            .put(&request.user, mechanism, &record)
            .await
            .map_err(GatewayError::from)?;
        tracing::info!(user = %request.user, mechanism, "SCRAM credential stored");
        Ok(Response::new(PutScramCredentialResponse {}))
    }

    async fn delete_scram_user(
        &self,
        request: Request<DeleteScramUserRequest>,
    ) -> Result<Response<DeleteScramUserResponse>, Status> {
        let request = request.into_inner();
        let mechanisms = if request.mechanism == ScramMechanism::Unspecified as i32 {
            vec![1, 2]
        } else {
            vec![mechanism_code(request.mechanism)?]
        };
        let mut deleted = Vec::new();
        for mechanism in mechanisms {
            if self
                .0
                .delete(&request.user, mechanism)
                .await
                .map_err(GatewayError::from)?
            {
                deleted.push(i32::from(mechanism));
            }
        }
        if deleted.is_empty() {
            return Err(
                GatewayError::from(CredentialError::NotFound { user: request.user }).into(),
            );
        }
        tracing::info!(user = %request.user, ?deleted, "SCRAM credentials deleted");
        Ok(Response::new(DeleteScramUserResponse { deleted }))
    }

    async fn list_scram_users(
        &self,
        _request: Request<ListScramUsersRequest>,
    ) -> Result<Response<ListScramUsersResponse>, Status> {
        let stored = self.0.list().await.map_err(GatewayError::from)?;
        let mut users: Vec<ScramUser> = Vec::new();
        for credential in stored {
            let info = ScramCredentialInfo {
                mechanism: i32::from(credential.mechanism),
                iterations: credential.record.iterations,
            };
            match users.last_mut() {
                Some(last) if last.user == credential.user => last.credentials.push(info),
                _ => users.push(ScramUser {
                    user: credential.user,
                    credentials: vec![info],
                }),
            }
        }
        Ok(Response::new(ListScramUsersResponse { users }))
    }
}
