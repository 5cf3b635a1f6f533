//! Webitel-shaped wire types. Field names, nesting and encodings (int64 as strings, epoch-ms
//! timestamps) follow Webitel's published API so that an SPA written for Webitel works unchanged.
//! No I/O lives here.

pub mod auth;
pub mod calls;
pub mod cc;
pub mod directory;
pub mod error;
pub mod list;
pub mod routing;
pub mod wire;

pub use auth::*;
pub use calls::{CallFile, Endpoint, HistoryCall};
pub use cc::{
    Agent, AgentChannel, AgentSkill, AgentSkillsPatch, AgentStatusRequest, AttemptHistory,
    Communication, CountResponse, DncList, ListCommunication, ListCommunicationBulk,
    ListCommunicationBulkError, ListCommunicationBulkResponse, Member, MemberBulk,
    MemberBulkResponse, MemberResetRequest, Queue, QueueSkill, RpcStatus, Skill, StatusResponse,
    Team,
};
pub use directory::*;
pub use error::AppError;
pub use list::ListResponse;
pub use routing::{
    Gateway, GatewayAcl, MovePositionResponse, RoutingOutboundCall, RoutingSchema,
    RoutingSchemaTag, SchemaTag,
};
pub use wire::{Lookup, ObjectId};
