//! `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` handlers.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::scim::{ScimError, discovery};
use crate::web::AppState;
use crate::web::scim::extract::Caller;
use crate::web::scim::respond::{self, ApiError};

type Result<T> = std::result::Result<T, ApiError>;

pub async fn service_provider_config(state: web::Data<AppState>, me: Caller) -> HttpResponse {
    let base = state.base_url(me.0.id.as_str());
    respond::json(
        StatusCode::OK,
        &discovery::service_provider_config(&base, state.caps),
    )
}

pub async fn resource_types(state: web::Data<AppState>, me: Caller) -> HttpResponse {
    respond::json(
        StatusCode::OK,
        &discovery::resource_types_list(&state.base_url(me.0.id.as_str())),
    )
}

pub async fn resource_type(
    state: web::Data<AppState>,
    me: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let body = discovery::resource_type_by_name(&state.base_url(me.0.id.as_str()), &path.1)
        .ok_or_else(|| ScimError::NotFound(format!("no resource type '{}'", path.1)))?;
    Ok(respond::json(StatusCode::OK, &body))
}

pub async fn schemas(state: web::Data<AppState>, me: Caller) -> HttpResponse {
    respond::json(
        StatusCode::OK,
        &discovery::schemas_list(&state.base_url(me.0.id.as_str())),
    )
}

pub async fn schema(
    state: web::Data<AppState>,
    me: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let body = discovery::schema_by_id(&state.base_url(me.0.id.as_str()), &path.1)
        .ok_or_else(|| ScimError::NotFound(format!("no schema '{}'", path.1)))?;
    Ok(respond::json(StatusCode::OK, &body))
}
