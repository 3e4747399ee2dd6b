//! The client commands: the connection ([`Conn`]) and the dispatch of a [`KmipCommand`] to
//! one function per operation (objects, attributes, lifecycle, cryptography).

mod attributes;
mod crypto;
mod lifecycle;
mod objects;

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use super::args::{ConnArgs, KmipCommand, parse_version};
use super::output::{print_payload, print_uid};
use super::usage;
use tresor_kmip::KmipError;
use tresor_kmip::client::{ClientConfig, KmipClient};
use tresor_kmip::enums::{self, Operation, ResultStatus};
use tresor_kmip::message::{ProtocolVersion, RequestMessage, ResponseBatchItem};
use tresor_kmip::payload::query::{DiscoverVersionsRequest, QueryRequest};
use tresor_kmip::payload::{Payload, Request};
use tresor_kmip::tags::Tag;

/// The client configuration: `--config` (if given) overridden by the other flags.
pub(super) fn client_config(c: &ConnArgs) -> Result<ClientConfig, KmipError> {
    let mut cfg = match &c.config {
        Some(p) => ClientConfig::from_pykmip_conf(p, &c.section)?,
        None => {
            let need = |o: &Option<PathBuf>, f: &str| {
                o.clone()
                    .ok_or_else(|| usage(format!("--{f} is required without --config")))
            };
            ClientConfig::new(
                "127.0.0.1",
                need(&c.cert, "cert")?,
                need(&c.key, "key")?,
                need(&c.ca, "ca")?,
            )
        }
    };
    if let Some(s) = &c.server {
        let (h, p) = match s.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_matches(['[', ']']).to_owned(),
                p.parse()
                    .map_err(|_| usage(format!("--server '{s}': bad port")))?,
            ),
            None => (s.clone(), tresor_kmip::client::DEFAULT_PORT),
        };
        cfg.host = h;
        cfg.port = p;
    }
    if let Some(p) = &c.cert {
        cfg.certfile = p.clone();
    }
    if let Some(p) = &c.key {
        cfg.keyfile = p.clone();
    }
    if let Some(p) = &c.ca {
        cfg.ca_certs = p.clone();
    }
    if let Some(t) = c.timeout {
        cfg.request_timeout = std::time::Duration::from_secs(t);
    }
    if let Some(v) = &c.kmip_version {
        cfg.protocol_version = parse_version(v)?;
    }
    Ok(cfg)
}

/// A connected client plus the negotiated version.
struct Conn {
    client: KmipClient,
    version: ProtocolVersion,
    json: bool,
}

impl Conn {
    async fn open(c: &ConnArgs) -> Result<Conn, KmipError> {
        let cfg = client_config(c)?;
        let explicit = c.kmip_version.is_some();
        let mut version = cfg.protocol_version;
        let client = KmipClient::new(cfg)?;
        if !explicit {
            let msg = RequestMessage::single(
                ProtocolVersion::V1_2,
                Operation::DISCOVER_VERSIONS,
                DiscoverVersionsRequest::supported().to_items(ProtocolVersion::V1_2),
            );
            let resp = client.request(&msg).await?;
            if let Some(v) = resp
                .batch_items
                .first()
                .filter(|b| b.result_status == ResultStatus::SUCCESS)
                .and_then(|b| b.payload_items().first())
                .and_then(|t| ProtocolVersion::from_ttlv(t).ok())
            {
                version = v;
            }
        }
        Ok(Conn {
            client,
            version,
            json: c.json,
        })
    }

    async fn call<R: Request>(&self, req: &R) -> Result<ResponseBatchItem, KmipError> {
        let op = R::OPERATION;
        let msg = RequestMessage::single(self.version, op, req.to_items(self.version));
        let resp = self.client.request(&msg).await?;
        let item = resp
            .batch_items
            .into_iter()
            .next()
            .ok_or(KmipError::MissingField {
                parent: Tag::RESPONSE_MESSAGE,
                field: Tag::BATCH_ITEM,
            })?;
        if item.result_status != ResultStatus::SUCCESS {
            return Err(KmipError::Failed {
                operation: op.name().unwrap_or("operation").to_owned(),
                reason: item
                    .result_reason
                    .map(|r| r.name().map(str::to_owned).unwrap_or_else(|| r.to_string()))
                    .unwrap_or_else(|| "unknown".into()),
                message: item.result_message.clone().unwrap_or_default(),
            });
        }
        Ok(item)
    }

    /// Prints a payload: JSON, or `Tag: value` lines.
    fn print(&self, item: &ResponseBatchItem) {
        print_payload(self.json, item);
    }

    /// Calls `op` and prints the whole response payload.
    async fn call_print<R: Request>(&self, req: &R) -> Result<ExitCode, KmipError> {
        let item = self.call(req).await?;
        self.print(&item);
        Ok(ExitCode::SUCCESS)
    }

    /// Calls `op` and prints the Unique Identifier of the response (the payload with --json).
    async fn call_uid<R: Request>(&self, req: &R) -> Result<ExitCode, KmipError> {
        let item = self.call(req).await?;
        print_uid(self.json, &item);
        Ok(ExitCode::SUCCESS)
    }
}

fn not_found(e: &KmipError) -> bool {
    matches!(e, KmipError::Failed { reason, .. } if reason == "ItemNotFound" || reason == "ObjectNotFound")
}

/// Runs a client command; "not found" answers become exit code 1.
pub(super) async fn client_command(cmd: KmipCommand) -> Result<ExitCode, KmipError> {
    let r = client_command_inner(cmd).await;
    match r {
        Err(e) if not_found(&e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
        other => other,
    }
}

async fn client_command_inner(cmd: KmipCommand) -> Result<ExitCode, KmipError> {
    use KmipCommand as K;
    match cmd {
        K::Serve(_)
        | K::Certs(_)
        | K::Grant { .. }
        | K::Apps { .. }
        | K::ImportPolicy { .. }
        | K::Doctor(_) => Err(usage("not a client command")),
        K::DiscoverVersions(c) => discover_versions(&c).await,
        K::Query(c) => query(&c).await,
        K::Create {
            conn,
            algorithm,
            length,
            attrs,
        } => objects::create(&conn, &algorithm, length, &attrs).await,
        K::CreateKeyPair {
            conn,
            algorithm,
            length,
            public_name,
            attrs,
        } => objects::create_key_pair(&conn, &algorithm, length, public_name, &attrs).await,
        K::Register {
            conn,
            object_type,
            file,
            value,
            format,
            algorithm,
            length,
            attrs,
        } => {
            objects::register(
                &conn,
                &object_type,
                file,
                value,
                format,
                algorithm,
                length,
                &attrs,
            )
            .await
        }
        K::Get {
            conn,
            uid,
            format,
            out,
        } => objects::get(&conn, &uid, format, out).await,
        K::Locate {
            conn,
            object_type,
            state,
            algorithm,
            length,
            max,
            offset,
            attrs,
        } => {
            objects::locate(
                &conn,
                object_type,
                state,
                algorithm,
                length,
                max,
                offset,
                &attrs,
            )
            .await
        }
        K::GetAttributes { conn, uid, names } => {
            attributes::get_attributes(&conn, &uid, names).await
        }
        K::GetAttributeList { conn, uid } => attributes::get_attribute_list(&conn, &uid).await,
        K::AddAttribute {
            conn,
            uid,
            attribute,
        } => attributes::add_attribute(&conn, &uid, &attribute).await,
        K::SetAttribute {
            conn,
            uid,
            attribute,
        } => attributes::set_attribute(&conn, &uid, &attribute).await,
        K::ModifyAttribute {
            conn,
            uid,
            attribute,
            index,
        } => attributes::modify_attribute(&conn, &uid, &attribute, index).await,
        K::DeleteAttribute {
            conn,
            uid,
            name,
            index,
        } => attributes::delete_attribute(&conn, &uid, name, index).await,
        K::Check { conn, uid, usage } => lifecycle::check(&conn, &uid, usage).await,
        K::Activate { conn, uid } => lifecycle::activate(&conn, &uid).await,
        K::Destroy { conn, uid } => lifecycle::destroy(&conn, &uid).await,
        K::Revoke {
            conn,
            uid,
            reason,
            message,
            compromise_date,
        } => lifecycle::revoke(&conn, &uid, &reason, message, compromise_date).await,
        K::ReKey { conn, uid, offset } => lifecycle::re_key(&conn, &uid, offset).await,
        K::Encrypt {
            conn,
            data,
            mode,
            iv,
            aad,
        } => crypto::encrypt(&conn, &data, &mode, iv, aad).await,
        K::Decrypt {
            conn,
            data,
            mode,
            iv,
            tag,
            aad,
        } => crypto::decrypt(&conn, &data, &mode, &iv, tag, aad).await,
        K::Sign {
            conn,
            data,
            padding,
        } => crypto::sign(&conn, &data, padding).await,
        K::Verify {
            conn,
            data,
            signature,
            padding,
        } => crypto::verify(&conn, &data, &signature, padding).await,
        K::Mac { conn, data } => crypto::mac(&conn, &data).await,
        K::MacVerify { conn, data, mac } => crypto::mac_verify(&conn, &data, &mac).await,
        K::Rng { conn, length } => crypto::rng(&conn, length).await,
    }
}

/// `discover-versions`: the versions the server speaks, one a line.
async fn discover_versions(c: &ConnArgs) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    let item = conn.call(&DiscoverVersionsRequest::supported()).await?;
    let versions: Vec<String> = item
        .payload_items()
        .iter()
        .filter_map(|t| ProtocolVersion::from_ttlv(t).ok())
        .map(|v| v.to_string())
        .collect();
    if c.json {
        println!("{}", json!({"versions": versions}));
    } else {
        println!("{}", versions.join("\n"));
    }
    Ok(ExitCode::SUCCESS)
}

/// `query`: the server's operations, object types and information.
async fn query(c: &ConnArgs) -> Result<ExitCode, KmipError> {
    let conn = Conn::open(c).await?;
    conn.call_print(&QueryRequest::new([
        enums::QueryFunction::QUERY_OPERATIONS,
        enums::QueryFunction::QUERY_OBJECTS,
        enums::QueryFunction::QUERY_SERVER_INFORMATION,
    ]))
    .await
}
