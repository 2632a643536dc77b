//! The SCIM API under each integration's Base URL, `/scim/v2/{integration_id}`.

pub mod activity;
mod bulk;
mod discovery;
pub mod extract;
pub mod group_cache;
mod groups;
mod render;
pub mod respond;
mod search;
mod users;

use actix_web::web;

use crate::scim::ScimError;
use crate::web::scim::respond::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2/{iid}")
            .wrap(actix_web::middleware::from_fn(activity::record))
            .service(
                web::resource("/Users")
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Users/.search")
                    .route(web::post().to(users::search))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/.search")
                    .route(web::post().to(search::root))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Users/{id}")
                    .route(web::get().to(users::get))
                    .route(web::put().to(users::replace))
                    .route(web::patch().to(users::patch))
                    .route(web::delete().to(users::delete))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Groups")
                    .route(web::get().to(groups::list))
                    .route(web::post().to(groups::create))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Groups/.search")
                    .route(web::post().to(groups::search))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Groups/{id}")
                    .route(web::get().to(groups::get))
                    .route(web::put().to(groups::replace))
                    .route(web::patch().to(groups::patch))
                    .route(web::delete().to(groups::delete))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Bulk")
                    .route(web::post().to(bulk::bulk))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/ServiceProviderConfig")
                    .route(web::get().to(discovery::service_provider_config))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/ResourceTypes")
                    .route(web::get().to(discovery::resource_types))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/ResourceTypes/{name}")
                    .route(web::get().to(discovery::resource_type))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Schemas")
                    .route(web::get().to(discovery::schemas))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Schemas/{urn}")
                    .route(web::get().to(discovery::schema))
                    .default_service(web::to(method_not_allowed)),
            )
            .default_service(web::to(not_found)),
    );
}

async fn method_not_allowed(
    req: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ScimError::MethodNotAllowed(format!(
        "{} is not supported on {}",
        req.method(),
        req.path()
    ))
    .into())
}

async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ScimError::NotFound(format!("no SCIM endpoint at {}", req.path())).into())
}
