//! Writes on followers: every command for the processor (check results, actions,
//! timers' work is the leader's own) is sent to the leader over NATS, applied there, and
//! answered once it is in the log — and, so that the client reads its own write on the
//! node it asked, once this node has committed that far.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::processor::{Change, Command, Inbox, Processed, Refused};

/// How long a follower tries to reach a leader (one may be taking over).
const PATIENCE: Duration = Duration::from_secs(20);
/// How long one attempt waits for the leader's answer (a bulk action on many objects
/// takes a while; a failed leader is noticed by its successor's lease instead).
const ATTEMPT: Duration = Duration::from_secs(120);
/// The pause between attempts while there is no leader.
const RETRY: Duration = Duration::from_millis(100);
/// How long an answer waits for this node to commit the write.
const CATCH_UP: Duration = Duration::from_secs(5);

#[derive(Serialize, Deserialize)]
struct Request {
    #[serde(rename = "type")]
    type_name: String,
    name: String,
    change: Change,
}

#[derive(Serialize, Deserialize)]
struct Answer {
    answer: Result<Processed, Refused>,
    /// The leader's log position after the write.
    position: u64,
    /// The leader's name.
    node: String,
}

/// Hands the commands of `inbox` to the leader until `stop`.
pub async fn forward(
    inbox: &mut Inbox,
    client: async_nats::Client,
    subject: String,
    applied: watch::Receiver<u64>,
    leader: watch::Receiver<Option<String>>,
    me: &str,
    stop: &CancellationToken,
) {
    loop {
        let command = tokio::select! {
            () = stop.cancelled() => return,
            c = inbox.recv() => match c {
                Some(c) => c,
                None => return,
            },
        };
        let Command { work, reply } = command;
        let Some((object, change)) = work else {
            // A barrier: nothing of this node's own waits to be applied.
            let _ = reply.send(Ok(Processed::next(0.0)));
            continue;
        };
        let request = Request {
            type_name: object.type_info.name.to_string(),
            name: object.name.to_string(),
            change,
        };
        let (client, subject, applied, leader, me) = (
            client.clone(),
            subject.clone(),
            applied.clone(),
            leader.clone(),
            me.to_string(),
        );
        tokio::spawn(async move {
            let answer = ask(&client, &subject, &request, applied, leader, &me).await;
            let _ = reply.send(answer);
        });
    }
}

async fn ask(
    client: &async_nats::Client,
    subject: &str,
    request: &Request,
    mut applied: watch::Receiver<u64>,
    mut leader: watch::Receiver<Option<String>>,
    me: &str,
) -> Result<Processed, Refused> {
    let payload =
        Bytes::from(serde_json::to_vec(request).map_err(|e| Refused::Store(e.to_string()))?);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let answer = loop {
        let asked = leader.borrow_and_update().clone();
        let request = client.request(subject.to_string(), payload.clone());
        // A leader that fails with the request in hand never answers: give up when
        // another takes over (the write may or may not be in the log).
        let replaced = leader.wait_for(|now| now.is_some() && *now != asked);
        let sent = tokio::select! {
            sent = tokio::time::timeout(ATTEMPT, request) => sent,
            _ = replaced, if asked.is_some() => {
                return Err(Refused::Unavailable(
                    "the cluster's leader failed before it answered; the change may not have been applied".into(),
                ));
            }
        };
        match sent {
            Ok(Ok(message)) => match serde_json::from_slice::<Answer>(&message.payload) {
                Ok(a) => break a,
                Err(e) => {
                    return Err(Refused::Store(format!(
                        "the leader's answer is unreadable: {e}"
                    )))
                }
            },
            // No leader yet (taking over) or an attempt lost: again, within patience.
            Ok(Err(e)) if tokio::time::Instant::now() + RETRY < deadline => {
                tracing::debug!(error = %e, "No answer from the cluster's leader yet.");
                tokio::time::sleep(RETRY).await;
            }
            Ok(Err(e)) => {
                return Err(Refused::Unavailable(format!(
                    "the cluster has no leader: {e}"
                )))
            }
            Err(_) => return Err(Refused::Unavailable(
                "the cluster's leader did not answer in time; the change may not have been applied"
                    .into(),
            )),
        }
    };
    // This node's own answer (it took over meanwhile) is committed here already.
    if answer.answer.is_ok() && answer.node != me {
        let position = answer.position;
        let _ = tokio::time::timeout(CATCH_UP, applied.wait_for(|p| *p >= position)).await;
    }
    answer.answer
}

/// The leader's side: applies forwarded commands until `stop`.
pub async fn serve(
    engine: Arc<Engine>,
    client: async_nats::Client,
    subject: String,
    stop: CancellationToken,
) {
    let mut requests = match client.subscribe(subject.clone()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "The leader cannot take forwarded writes.");
            return;
        }
    };
    loop {
        let message = tokio::select! {
            () = stop.cancelled() => break,
            m = requests.next() => match m {
                Some(m) => m,
                None => break,
            },
        };
        let Some(reply) = message.reply.clone() else {
            continue;
        };
        let (engine, client) = (engine.clone(), client.clone());
        tokio::spawn(async move {
            let answer = match serde_json::from_slice::<Request>(&message.payload) {
                Ok(request) => apply(&engine, request).await,
                Err(e) => Err(Refused::Rejected(
                    400,
                    format!("Forwarded request unreadable: {e}"),
                )),
            };
            let answer = Answer {
                answer,
                position: engine.store.log_position(),
                node: engine.node_name.clone(),
            };
            if let Ok(body) = serde_json::to_vec(&answer) {
                let _ = client.publish(reply, Bytes::from(body)).await;
            }
        });
    }
    let _ = requests.unsubscribe().await;
}

async fn apply(engine: &Engine, request: Request) -> Result<Processed, Refused> {
    let object = engine
        .registry()
        .get(&request.type_name, &request.name)
        .cloned()
        .ok_or(Refused::Gone)?;
    engine.processor.apply(object, request.change).await
}
