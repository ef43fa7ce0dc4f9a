//! Production verification: tokens signed by an identity provider's key,
//! checked against its published JWKS; the development secret no longer
//! opens anything.

use std::process::Stdio;

use serde_json::json;
use trellis_auth::{Caller, Role, TokenIssuer};
use trellis_kernel::TenantId;

use crate::harness::*;

/// A test identity provider's Ed25519 key and the JWKS it publishes.
const IDP_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIB7HUm27YlfYIadSiyb/x7PkoLpQ/jvltMUBhZmspL4k
-----END PRIVATE KEY-----
";
const IDP_JWKS: &str = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA",
    "kid": "idp-2026", "x": "NCuDn8FCWeVZDlDq2BH5g_zZawKmOpC07bs2TRTyUMU"}]}"#;

#[tokio::test]
async fn tokens_are_checked_against_the_published_keys() {
    let data = tempfile::tempdir().unwrap();
    let jwks = data.path().join("jwks.json");
    std::fs::write(&jwks, IDP_JWKS).unwrap();
    let server = Server::start_with(
        data.path(),
        &[("TRELLIS_JWKS_FILE", jwks.to_str().unwrap())],
        Stdio::inherit(),
    )
    .await;
    let tenant = fresh_tenant();
    let signed = TokenIssuer::ed25519_pem(IDP_KEY.as_bytes(), "idp-2026")
        .unwrap()
        .issue(
            &Caller {
                tenant: TenantId::parse(&tenant).unwrap(),
                subject: CLINICIAN.into(),
                roles: vec![Role::Clinician],
                clinics: vec![CLINIC.into()],
            },
            chrono::Duration::minutes(5),
        )
        .unwrap();
    let query = "{ plans { edges { cursor } } }";
    let (status, _) = server.graphql_raw(Some(&signed), query, json!({})).await;
    assert_eq!(status, 200);
    let mut plans = server.plans(&signed).await;
    create_plan(&mut plans).await;

    let development = clinician_token(&tenant);
    let (status, body) = server
        .graphql_raw(Some(&development), query, json!({}))
        .await;
    assert_eq!(status, 401, "{body}");
}
