//! Routing schemas: Webitel's flow JSON (an array of steps, each an object with one
//! application name as its key), read into the steps the runtime carries out. Pure: no store,
//! no SIP. Supported: `bridge` (gateway and user endpoints, `failover` or `multiple`),
//! `answer`, `ringReady`, `playback` (built-in tones), `set`, `hangup`; `joinQueue` is kept
//! for the contact center; anything else is reported as unsupported rather than ignored.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Answer,
    RingReady,
    /// A built-in tone by name (`ringback`, `busy`, `hold`, …) or a file name we cannot play.
    Playback(String),
    /// Channel variables.
    Set(Vec<(String, String)>),
    /// `hangup`, with Webitel's cause name if given.
    Hangup(Option<String>),
    Bridge(Bridge),
    /// `joinQueue`: wait in a contact-center queue; the steps after it run when the caller
    /// leaves the queue without an agent.
    JoinQueue(JoinQueue),
    /// An application this server does not run.
    Unsupported(String),
}

/// `{"joinQueue": {"queue": {"id": 1, "name": "Support"}, "priority": 0, …}}` (flow_manager's
/// `QueueJoinArg`); ringtone, timers and the nested step lists are not run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinQueue {
    pub queue_id: Option<i64>,
    pub queue_name: Option<String>,
    pub priority: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bridge {
    pub strategy: Strategy,
    pub endpoints: Vec<Endpoint>,
}

/// `failover` (`|` in FreeSWITCH terms): one endpoint after the other; `multiple` (`,`): all
/// at once, the first to answer wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Failover,
    Multiple,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    /// A SIP gateway by id or name; `dial_string` is the number to send (with `$1`… and
    /// `${destination_number}` expanded by [`expand`]).
    Gateway {
        id: Option<i64>,
        name: Option<String>,
        dial_string: String,
    },
    /// A user of the domain.
    User {
        id: Option<i64>,
        extension: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("the schema is not a JSON array of steps: {0}")]
    NotAnArray(String),
    #[error("step {0} is not an object with one application")]
    BadStep(usize),
    #[error("bridge at step {0} has no usable endpoint")]
    EmptyBridge(usize),
}

/// Reads a schema's flow JSON.
pub fn parse_flow(json: &str) -> Result<Vec<Step>, FlowError> {
    let v: Value = serde_json::from_str(json).map_err(|e| FlowError::NotAnArray(e.to_string()))?;
    let Value::Array(items) = v else {
        return Err(FlowError::NotAnArray("not an array".into()));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| step(i, item))
        .collect()
}

fn step(i: usize, item: &Value) -> Result<Step, FlowError> {
    let obj = item.as_object().ok_or(FlowError::BadStep(i))?;
    // A step may carry bookkeeping keys besides its application (`tag`, `break`, …).
    let (app, args) = obj
        .iter()
        .find(|(k, _)| !matches!(k.as_str(), "tag" | "break" | "limit" | "async"))
        .ok_or(FlowError::BadStep(i))?;
    Ok(match app.as_str() {
        "answer" => Step::Answer,
        "ringReady" | "preAnswer" => Step::RingReady,
        "playback" => Step::Playback(playback_name(args)),
        "set" => Step::Set(
            args.as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
                .unwrap_or_default(),
        ),
        "hangup" => Step::Hangup(match args {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        }),
        "bridge" => Step::Bridge(bridge(i, args)?),
        "joinQueue" => {
            let queue = args.get("queue").and_then(Value::as_object);
            Step::JoinQueue(JoinQueue {
                queue_id: queue.and_then(|q| int(q.get("id"))),
                queue_name: queue.and_then(|q| string(q, "name")),
                priority: int(args.get("priority")).unwrap_or(0) as i32,
            })
        }
        other => Step::Unsupported(other.to_string()),
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn playback_name(args: &Value) -> String {
    let file = args
        .get("files")
        .and_then(Value::as_array)
        .and_then(|f| f.first())
        .or_else(|| args.get("file"));
    file.map(|f| {
        ["name", "id", "type"]
            .iter()
            .find_map(|k| f.get(*k).map(text))
            .unwrap_or_else(|| text(f))
    })
    .unwrap_or_default()
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn string(m: &Map<String, Value>, key: &str) -> Option<String> {
    m.get(key).map(text).filter(|s| !s.is_empty())
}

fn bridge(i: usize, args: &Value) -> Result<Bridge, FlowError> {
    let strategy = match args.get("strategy").and_then(Value::as_str) {
        Some("multiple") => Strategy::Multiple,
        _ => Strategy::Failover,
    };
    let endpoints: Vec<Endpoint> = args
        .get("endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter_map(|e| match e.get("type").and_then(Value::as_str) {
            Some("gateway") => {
                let nested = e.get("gateway").and_then(Value::as_object);
                Some(Endpoint::Gateway {
                    id: int(e.get("id")).or_else(|| nested.and_then(|g| int(g.get("id")))),
                    name: string(e, "name").or_else(|| nested.and_then(|g| string(g, "name"))),
                    dial_string: string(e, "dialString")
                        .unwrap_or_else(|| "${destination_number}".into()),
                })
            }
            Some("user") => Some(Endpoint::User {
                id: int(e.get("id")),
                extension: string(e, "extension"),
            }),
            _ => None,
        })
        .collect();
    if endpoints.is_empty() {
        return Err(FlowError::EmptyBridge(i));
    }
    Ok(Bridge {
        strategy,
        endpoints,
    })
}

/// Expands a dial string: `${destination_number}` (and `${destination}`) is the dialled
/// number, `$1`…`$9` the route pattern's capture groups (empty when absent).
pub fn expand(dial: &str, destination: &str, captures: &[&str]) -> String {
    let mut out = dial
        .replace("${destination_number}", destination)
        .replace("${destination}", destination);
    for n in (1..=9).rev() {
        let value = captures.get(n - 1).copied().unwrap_or("");
        out = out.replace(&format!("${n}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_bridge_with_failover() {
        let steps = parse_flow(
            r#"[{"set":{"sip_h_X":"1","n":2}},{"ringReady":{}},
                {"bridge":{"strategy":"failover","endpoints":[
                  {"type":"gateway","name":"Provider","dialString":"$1"},
                  {"type":"gateway","gateway":{"id":"7"}},
                  {"type":"user","extension":"1001"}]}},
                {"hangup":"NORMAL_CLEARING"}]"#,
        )
        .unwrap();
        assert_eq!(steps.len(), 4);
        assert_eq!(
            steps[0],
            Step::Set(vec![
                ("n".into(), "2".into()),
                ("sip_h_X".into(), "1".into())
            ])
        );
        let Step::Bridge(b) = &steps[2] else {
            panic!("{steps:?}")
        };
        assert_eq!(b.strategy, Strategy::Failover);
        assert_eq!(
            b.endpoints[0],
            Endpoint::Gateway {
                id: None,
                name: Some("Provider".into()),
                dial_string: "$1".into()
            }
        );
        assert_eq!(
            b.endpoints[1],
            Endpoint::Gateway {
                id: Some(7),
                name: None,
                dial_string: "${destination_number}".into()
            }
        );
        assert_eq!(
            b.endpoints[2],
            Endpoint::User {
                id: None,
                extension: Some("1001".into())
            }
        );
        assert_eq!(steps[3], Step::Hangup(Some("NORMAL_CLEARING".into())));
    }

    #[test]
    fn other_applications_are_named_not_dropped() {
        let steps =
            parse_flow(r#"[{"answer":{}},{"playback":{"files":[{"name":"busy"}]}},{"js":{}}]"#)
                .unwrap();
        assert_eq!(
            steps,
            vec![
                Step::Answer,
                Step::Playback("busy".into()),
                Step::Unsupported("js".into())
            ]
        );
    }

    #[test]
    fn join_queue_names_the_queue_and_keeps_what_follows() {
        let steps = parse_flow(
            r#"[{"joinQueue":{"queue":{"id":"12","name":"Support"},"priority":5,"timers":[]}},
                {"hangup":"NO_ANSWER"}]"#,
        )
        .unwrap();
        assert_eq!(
            steps,
            vec![
                Step::JoinQueue(JoinQueue {
                    queue_id: Some(12),
                    queue_name: Some("Support".into()),
                    priority: 5
                }),
                Step::Hangup(Some("NO_ANSWER".into()))
            ]
        );
    }

    #[test]
    fn broken_schemas_say_why() {
        assert!(matches!(parse_flow("{}"), Err(FlowError::NotAnArray(_))));
        assert_eq!(parse_flow("[1]"), Err(FlowError::BadStep(0)));
        assert_eq!(
            parse_flow(r#"[{"bridge":{"endpoints":[{"type":"fax"}]}}]"#),
            Err(FlowError::EmptyBridge(0))
        );
    }

    #[test]
    fn dial_strings_take_the_number_and_captures() {
        assert_eq!(
            expand("${destination_number}", "0501234567", &[]),
            "0501234567"
        );
        assert_eq!(
            expand("+38$1", "0501234567", &["0501234567"]),
            "+380501234567"
        );
        assert_eq!(expand("$2-$1", "x", &["a"]), "-a");
    }
}
