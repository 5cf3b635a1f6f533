use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "Webitel-compatible REST API of Switchboard. Authenticate with the \
                       X-Webitel-Access header. int64 values are strings; times are epoch ms."
    ),
    modifiers(&Security),
    tags(
        (name = "devices"), (name = "users"), (name = "tokens"), (name = "roles"),
        (name = "license"), (name = "session"), (name = "calls"),
        (name = "gateways"), (name = "routing"), (name = "call_center")
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "AccessToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Webitel-Access"))),
        );
    }
}
