//! Notifications: which `Notification` objects of a host or service fire for a problem,
//! recovery, acknowledgement, downtime, flapping change or custom message; to which
//! users; with which NotificationCommand. The decision and the `Notification` event are
//! part of the batch (durable with the change that caused them); the commands run after
//! the commit, one process per user, as Icinga runs them.

use std::sync::Arc;
use std::time::Duration;

use filters::{Dict, Str, Value};
use serde_json::json;

use super::batch::Batch;
use super::timers::Deadline;
use crate::bus::EventKind;
use crate::checker::command::{self, state_name, Program};
use crate::checker::Subject;
use crate::objects::Object;
use crate::state::{CheckableState, NoticeState};

/// Why a notification is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Problem,
    Recovery,
    Acknowledgement,
    Custom,
    FlappingStart,
    FlappingEnd,
    DowntimeStart,
    DowntimeEnd,
    DowntimeRemoved,
}

impl Kind {
    /// `notification_type` of the event and `$notification.type$`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Problem => "PROBLEM",
            Kind::Recovery => "RECOVERY",
            Kind::Acknowledgement => "ACKNOWLEDGEMENT",
            Kind::Custom => "CUSTOM",
            Kind::FlappingStart => "FLAPPINGSTART",
            Kind::FlappingEnd => "FLAPPINGEND",
            Kind::DowntimeStart => "DOWNTIMESTART",
            Kind::DowntimeEnd => "DOWNTIMEEND",
            Kind::DowntimeRemoved => "DOWNTIMECANCELLED",
        }
    }

    /// Icinga's bit for the type (`suppressed_notifications`).
    fn bit(self) -> u32 {
        match self {
            Kind::DowntimeStart => 1,
            Kind::DowntimeEnd => 2,
            Kind::DowntimeRemoved => 4,
            Kind::Custom => 8,
            Kind::Acknowledgement => 16,
            Kind::Problem => 32,
            Kind::Recovery => 64,
            Kind::FlappingStart => 128,
            Kind::FlappingEnd => 256,
        }
    }

    /// The name in `types` filters.
    fn filter_name(self) -> &'static str {
        match self {
            Kind::Problem => "Problem",
            Kind::Recovery => "Recovery",
            Kind::Acknowledgement => "Acknowledgement",
            Kind::Custom => "Custom",
            Kind::FlappingStart => "FlappingStart",
            Kind::FlappingEnd => "FlappingEnd",
            Kind::DowntimeStart => "DowntimeStart",
            Kind::DowntimeEnd => "DowntimeEnd",
            Kind::DowntimeRemoved => "DowntimeRemoved",
        }
    }
}

/// Which of an object's Notifications a notification goes through, and why.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Through<'a> {
    /// Every Notification of the object (a state change, an action).
    All,
    /// One Notification's reminder (`interval`), or its first notification at
    /// `times.begin`.
    Reminder(&'a str),
    /// One Notification sending what its `period` held back.
    Released(&'a str),
}

impl<'a> Through<'a> {
    /// The one Notification, if not all.
    fn only(self) -> Option<&'a str> {
        match self {
            Through::All => None,
            Through::Reminder(name) | Through::Released(name) => Some(name),
        }
    }
}

/// A command to run after the commit: a NotificationCommand for one user, or an event
/// handler.
#[derive(Debug)]
pub struct Job {
    /// What it is, for the log (`notification 'h!s!mail' to 'alice'`).
    pub label: String,
    pub program: Program,
    pub timeout: f64,
}

/// Whether a `types`/`states` filter (absent: everything) lets `name` through.
fn passes(filter: Option<&Value>, name: &str) -> bool {
    match filter {
        Some(Value::Array(list)) => list
            .iter()
            .any(|v| v.to_display_string().eq_ignore_ascii_case(name)),
        _ => true,
    }
}

fn in_period(b: &Batch, o: &Object) -> bool {
    let name = o.string("period");
    if name.is_empty() {
        return true;
    }
    crate::timeperiod::period_allows(b.base(), &name, b.now)
}

/// The users of a notification: `users` and the members of `user_groups`, once each.
fn recipients(b: &Batch, n: &Object) -> Vec<Arc<Object>> {
    let mut names: Vec<String> = Vec::new();
    if let Some(Value::Array(users)) = n.attr("users") {
        names.extend(users.iter().map(|u| u.to_display_string()));
    }
    if let Some(Value::Array(groups)) = n.attr("user_groups") {
        let groups: Vec<String> = groups.iter().map(|g| g.to_display_string()).collect();
        for u in b.base().objects("User") {
            let member = matches!(u.attr("groups"), Some(Value::Array(ug))
                if ug.iter().any(|g| groups.contains(&g.to_display_string())));
            if member {
                names.push(u.name.to_string());
            }
        }
    }
    names.sort();
    names.dedup();
    names
        .iter()
        .filter_map(|n| b.base().get("User", n).cloned())
        .collect()
}

/// What is notified: why, by whom, with what text.
#[derive(Clone, Copy, Debug)]
pub struct Notice<'a> {
    pub kind: Kind,
    pub author: &'a str,
    pub text: &'a str,
    /// Custom notifications with `force`: past downtimes, filters, periods and disabled
    /// notifications.
    pub force: bool,
}

impl<'a> Notice<'a> {
    /// A notice the engine raises itself (no author, no text).
    pub fn of(kind: Kind) -> Notice<'static> {
        Notice {
            kind,
            author: "",
            text: "",
            force: false,
        }
    }

    /// A notice someone raised, with their comment.
    pub fn by(kind: Kind, author: &'a str, text: &'a str) -> Notice<'a> {
        Notice {
            kind,
            author,
            text,
            force: false,
        }
    }
}

/// Sends `notice` for a host or service through each of its Notification objects whose
/// filters let it through.
pub fn send(b: &mut Batch, o: &Arc<Object>, notice: &Notice<'_>) {
    send_through(b, o, notice, Through::All);
}

/// [`send`], through one Notification alone if `through` names one (a reminder is one
/// Notification's, not all of the object's).
fn send_through(b: &mut Batch, o: &Arc<Object>, notice: &Notice<'_>, through: Through) {
    let (kind, force) = (notice.kind, notice.force);
    let mut notifications = b.attached("Notification", o);
    if let Some(name) = through.only() {
        notifications.retain(|n| *n.name == *name);
    }
    if notifications.is_empty() {
        return;
    }
    let app_enabled = b.base().app_switch("enable_notifications");
    if !force && (!app_enabled || !o.flag("enable_notifications", true)) {
        return;
    }
    let Some(st) = b.peek_state(o) else {
        return;
    };
    if !force && suppressed(kind, &st) {
        return;
    }
    let is_host = o.type_info.name == "Host";
    let state = state_name(is_host, st.state);
    let mut changes: Vec<(String, NoticeState)> = Vec::new();
    let mut stashed = false;
    for n in notifications {
        if !force
            && (!passes(n.attr("types"), kind.filter_name()) || !passes(n.attr("states"), state))
        {
            // A recovery ends a problem even where it is not sent.
            if let Some(ns) = st.notifications.get(&*n.name).filter(|ns| ns.no_more) {
                if kind == Kind::Recovery {
                    let mut ns = ns.clone();
                    ns.no_more = false;
                    changes.push((n.name.to_string(), ns));
                }
            }
            continue;
        }
        let mut ns = st.notifications.get(&*n.name).cloned().unwrap_or_default();
        if !force && !in_period(b, &n) {
            // Outside the period: a reminder is skipped (its next one is already set); a
            // problem, recovery or flapping change waits for the period to begin.
            if through != Through::Reminder(&n.name)
                && kind.bit() & (STATE_KINDS | FLAPPING_KINDS) != 0
            {
                ns.suppressed |= kind.bit();
                changes.push((n.name.to_string(), ns));
                stashed = true;
            }
            continue;
        }
        if !force && kind == Kind::Problem {
            match escalation(&n, st.last_hard_state_change, b.now) {
                Window::Open => {}
                Window::Closed => continue,
                Window::Opens(at) => {
                    // Not yet: the first notification of this one waits for `times.begin`.
                    ns.next_notification = at;
                    ns.no_more = false;
                    b.timers.push((at, Deadline::Renotify(n.name.clone())));
                    changes.push((n.name.to_string(), ns));
                    continue;
                }
            }
        }
        ns.no_more = kind == Kind::Problem && interval_of(&n) <= 0.0;
        let mut users: Vec<Arc<Object>> = recipients(b, &n)
            .into_iter()
            .filter(|u| {
                force
                    || (u.flag("enable_notifications", true)
                        && passes(u.attr("types"), kind.filter_name())
                        && passes(u.attr("states"), state)
                        && in_period(b, u))
            })
            .collect();
        // Recoveries go to the users who heard of the problem, and only to them.
        if kind == Kind::Recovery {
            users.retain(|u| ns.notified_problem_users.iter().any(|p| *p == *u.name));
        }
        if users.is_empty() {
            changes.push((n.name.to_string(), ns));
            continue;
        }
        match kind {
            Kind::Problem => {
                ns.notification_number += 1;
                ns.last_problem_notification = b.now;
                ns.notified_problem_users = users.iter().map(|u| u.name.to_string()).collect();
                // A reminder has set its next one already.
                if !matches!(through, Through::Reminder(_)) {
                    remind_after_interval(b, &n, &mut ns);
                }
            }
            Kind::Recovery => {
                ns.notification_number = 0;
                ns.notified_problem_users.clear();
                ns.next_notification = 0.0;
            }
            _ => {}
        }
        ns.last_notification = b.now;
        dispatch(b, o, &st, &n, &users, notice);
        changes.push((n.name.to_string(), ns));
    }
    let holding_before = holds_any(&st);
    if let Some(st) = b.state(o) {
        for (name, ns) in changes {
            st.notifications.insert(name, ns);
        }
    }
    if stashed && !holding_before {
        look_again(b, o);
    }
}

/// The kinds held back (by the object, or by a Notification's `period`), in the order
/// they are looked at again.
const HELD_KINDS: [Kind; 4] = [
    Kind::Problem,
    Kind::Recovery,
    Kind::FlappingStart,
    Kind::FlappingEnd,
];

/// Whether an object holds back any notification, for itself or in a Notification.
pub fn holds_any(st: &CheckableState) -> bool {
    st.suppressed_notifications != 0 || st.notifications.values().any(|ns| ns.suppressed != 0)
}

/// Sets a Notification's next reminder `interval` (default 30 min) from now; none for
/// an interval of 0.
fn remind_after_interval(b: &mut Batch, n: &Object, ns: &mut NoticeState) {
    let interval = interval_of(n);
    if interval > 0.0 {
        ns.next_notification = b.now + interval;
        b.timers
            .push((ns.next_notification, Deadline::Renotify(n.name.clone())));
    } else {
        ns.next_notification = 0.0;
    }
}

/// A Notification's reminder `interval` (default 30 min; 0: no reminders).
fn interval_of(n: &Object) -> f64 {
    n.attr("interval")
        .and_then(|v| v.to_number().ok())
        .unwrap_or(1800.0)
}

/// Where a problem notification stands in its `times` window.
enum Window {
    Open,
    /// Past `times.end`.
    Closed,
    /// Before `times.begin`: opens at this time.
    Opens(f64),
}

/// `times = { begin = …, end = … }` of a Notification (escalations): problem
/// notifications go out only from `begin` to `end` after the last HARD state change.
fn escalation(n: &Object, hard_change: f64, now: f64) -> Window {
    let Some(Value::Dict(times)) = n.attr("times") else {
        return Window::Open;
    };
    let bound = |key: &str| {
        times
            .get(key)
            .and_then(|v| v.to_number().ok())
            .filter(|t| *t >= 0.0)
    };
    if let Some(begin) = bound("begin") {
        if now < hard_change + begin {
            // Icinga adds a second, so that the window is open when the timer fires.
            return Window::Opens(hard_change + begin + 1.0);
        }
    }
    match bound("end") {
        Some(end) if now > hard_change + end => Window::Closed,
        _ => Window::Open,
    }
}

/// Problems and recoveries are held back in downtime, while flapping, and problems
/// while acknowledged.
fn suppressed(kind: Kind, st: &CheckableState) -> bool {
    match kind {
        Kind::Problem => st.downtime_depth > 0 || st.acknowledged() || st.flapping,
        Kind::Recovery => st.downtime_depth > 0 || st.flapping,
        Kind::Custom | Kind::FlappingStart | Kind::FlappingEnd => st.downtime_depth > 0,
        _ => false,
    }
}

/// The `Notification` event and one command job per user.
#[allow(clippy::too_many_arguments)]
fn dispatch(
    b: &mut Batch,
    o: &Arc<Object>,
    st: &CheckableState,
    n: &Object,
    users: &[Arc<Object>],
    notice: &Notice<'_>,
) {
    let Notice {
        kind, author, text, ..
    } = *notice;
    let command_name = n.string("command");
    let mut body = super::acks::head(b, EventKind::Notification, o);
    if !command_name.is_empty() {
        body["command"] = json!(command_name);
    }
    body["users"] = json!(users.iter().map(|u| u.name.to_string()).collect::<Vec<_>>());
    body["notification_type"] = json!(kind.name());
    body["author"] = json!(author);
    body["text"] = json!(text);
    body["check_result"] = st
        .last_check_result
        .as_ref()
        .and_then(|r| serde_json::to_value(&**r).ok())
        .unwrap_or(serde_json::Value::Null);
    b.event(EventKind::Notification, &body);
    let Some(command) = b.base().get("NotificationCommand", &command_name).cloned() else {
        return;
    };
    let Some(subject) = subject_in(b, o) else {
        return;
    };
    let timeout = command
        .attr("timeout")
        .and_then(|v| v.to_number().ok())
        .unwrap_or(60.0);
    for u in users {
        let extra = recipient_macros(n, u, kind.name(), author, text);
        let macros = subject.macros(&command, Some(&extra));
        match command::build(&command.attrs, &macros) {
            Ok(program) => b.jobs.push(Job {
                label: format!("notification '{}' to '{}'", n.name, u.name),
                program,
                timeout,
            }),
            Err(e) => {
                tracing::warn!(notification = %n.name, user = %u.name, error = %e, "Notification command cannot be built.");
            }
        }
    }
}

/// The macros a notification command resolves for one recipient besides its subject's:
/// `$notification.type$`, `.author$`, `.comment$`, `$user.*$`, and unprefixed the
/// user's custom variables, then the notification's (Icinga's resolver order).
pub fn recipient_macros(n: &Object, u: &Object, kind: &str, author: &str, text: &str) -> Dict {
    let mut notification = Dict::new();
    notification.insert("type".into(), Value::from(kind));
    notification.insert("author".into(), Value::from(author));
    notification.insert("comment".into(), Value::from(text));
    let mut user = u.attrs.to_dict();
    user.insert("name".into(), Value::from(&*u.name));
    let mut extra = Dict::new();
    for source in [&u.attrs, &n.attrs] {
        if let Some(Value::Dict(vars)) = source.get("vars") {
            for (k, v) in vars.iter() {
                extra.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    extra.insert("notification".into(), Value::from(notification));
    extra.insert("user".into(), Value::from(user));
    extra
}

/// The subject of a command run from the processor: runtime macros read the states as
/// this batch leaves them.
pub fn subject_in(b: &Batch, o: &Arc<Object>) -> Option<Subject> {
    let subject = Subject::of(b.base(), o, b.now)?;
    let host = b.peek_state(&subject.host);
    let service = subject.service.as_ref().and_then(|s| b.peek_state(s));
    Some(subject.with_states(host, service))
}

/// A reminder deadline (`interval`): sends the problem again through this Notification
/// if it is still a hard problem nothing holds back. As Icinga's timer, the next reminder
/// is set whether or not this one goes out (in downtime, acknowledged, outside the
/// period), so reminders resume once the reason ends; a recovery ends them (the next
/// problem notification starts them again).
pub fn renotify(b: &mut Batch, name: &str) {
    let Some(n) = b.get("Notification", name) else {
        return;
    };
    let (type_name, owner) = crate::objects::checkable_ref(&n.attrs, "host_name", "service_name");
    let Some(o) = b.get(type_name, &owner) else {
        return;
    };
    let Some(st) = b.peek_state(&o) else {
        return;
    };
    let Some(mut ns) = st.notifications.get(name).cloned() else {
        return;
    };
    let due = ns.next_notification > 0.0 && ns.next_notification <= b.now;
    if !due || ns.no_more || st.state == 0 || st.state_type != crate::state::HARD {
        return;
    }
    remind_after_interval(b, &n, &mut ns);
    // Not before the first notification of a problem held back.
    let first_pending = (st.suppressed_notifications | ns.suppressed) & Kind::Problem.bit() != 0;
    if let Some(st) = b.state(&o) {
        st.notifications.insert(name.to_string(), ns);
    }
    if !first_pending && b.reachable(&o, super::reachability::Purpose::Notification) {
        send_through(b, &o, &Notice::of(Kind::Problem), Through::Reminder(name));
    }
}

/// `delay-notification`: no notification of `o` before `until`.
pub fn delay(b: &mut Batch, o: &Arc<Object>, until: f64) {
    let names: Vec<Str> = b
        .attached("Notification", o)
        .iter()
        .map(|n| n.name.clone())
        .collect();
    if let Some(st) = b.state(o) {
        for n in &names {
            st.notifications
                .entry(n.to_string())
                .or_default()
                .next_notification = until;
        }
    }
    for n in names {
        b.timers.push((until, Deadline::Renotify(n)));
    }
}

/// Runs a job's command (after its batch is committed).
pub async fn run(job: Job, clock: crate::clock::Clock) {
    match job.program {
        Program::Exec { argv, env } => {
            let timeout = Duration::from_secs_f64(job.timeout.clamp(1.0, 3600.0));
            let outcome = crate::checker::process::run(&argv, &env, timeout, &clock).await;
            if outcome.exit_code != 0 {
                tracing::warn!(job = %job.label, exit = outcome.exit_code, output = %outcome.output.trim(), "Command failed.");
            } else {
                tracing::info!(job = %job.label, "Command ran.");
            }
        }
        Program::Builtin(name) => {
            tracing::info!(job = %job.label, execute = %name, "Handled by a built-in.");
        }
    }
}

/// How often held-back notifications are looked at again (Icinga: every 5 s).
const SUPPRESSED_RETRY: f64 = 5.0;

/// When held-back notifications are looked at next: on a 5 s grid, so that every object
/// holding some is looked at in one batch (as Icinga's one timer does), at least 5 s on.
pub fn suppressed_retry_at(now: f64) -> f64 {
    ((now + SUPPRESSED_RETRY) / SUPPRESSED_RETRY).ceil() * SUPPRESSED_RETRY
}

const STATE_KINDS: u32 = 32 | 64;
const FLAPPING_KINDS: u32 = 128 | 256;

/// Holds back a problem, recovery or flapping notification of `o` (in downtime,
/// acknowledged, unreachable) to be sent when the reason ends, as Icinga's suppressed
/// notifications: flapping start and end cancel out; the first held-back problem or
/// recovery remembers the HARD state before the result (`last_state`, or OK if that was
/// SOFT).
pub fn hold(b: &mut Batch, o: &Arc<Object>, kind: Kind) {
    let Some(st) = b.state(o) else {
        return;
    };
    let holding_before = holds_any(st);
    let before = st.suppressed_notifications;
    let mut after = before | kind.bit();
    if after & FLAPPING_KINDS == FLAPPING_KINDS {
        after &= !FLAPPING_KINDS;
    }
    if before & STATE_KINDS == 0 && kind.bit() & STATE_KINDS != 0 {
        st.state_before_suppression = if st.last_state_type == crate::state::HARD {
            st.last_state
        } else {
            0
        };
    }
    st.suppressed_notifications = after;
    if !holding_before && after != 0 {
        look_again(b, o);
    }
}

/// Whether a held-back problem or recovery is still pending (a new one then joins it
/// instead of going out ahead of it).
pub fn state_pending(st: &CheckableState) -> bool {
    st.suppressed_notifications & STATE_KINDS != 0
}

/// Whether problems and recoveries are held back: in downtime, acknowledged, or not
/// `notifiable` (a failed dependency).
pub fn held_back(st: &CheckableState, notifiable: bool) -> bool {
    !notifiable || st.downtime_depth > 0 || st.acknowledged()
}

/// Has the object's held-back notifications looked at again on the next 5 s mark.
fn look_again(b: &mut Batch, o: &Object) {
    let at = suppressed_retry_at(b.now);
    b.timers
        .push((at, Deadline::Suppressed(o.type_info.name, o.name.clone())));
}

/// The 5 s look at an object's held-back notifications: those it holds itself
/// ([`release_held`]) and those its Notifications' periods hold ([`release_stashed`]);
/// looks again in 5 s while any remain.
pub fn release(b: &mut Batch, type_name: &'static str, name: &str) {
    let Some(o) = b.get(type_name, name) else {
        return;
    };
    if !b.peek_state(&o).is_some_and(|st| holds_any(&st)) {
        return;
    }
    let enabled =
        b.base().app_switch("enable_notifications") && o.flag("enable_notifications", true);
    if enabled {
        let notifiable = b.reachable(&o, super::reachability::Purpose::Notification);
        release_held(b, &o, notifiable);
        release_stashed(b, &o, notifiable);
    }
    if b.peek_state(&o).is_some_and(|st| holds_any(&st)) {
        look_again(b, &o);
    }
}

/// `Checkable::FireSuppressedNotifications`: sends what the object held back once its
/// reason has ended and it still applies (a problem: the object is still in a problem
/// state other than before; a recovery: it is OK and was not before; flapping start/end:
/// it still is / is not flapping); drops what no longer applies. A problem or recovery
/// waits for a HARD state and, for actively checked objects, for a check that is not
/// about to run anyway.
fn release_held(b: &mut Batch, o: &Arc<Object>, notifiable: bool) {
    let Some(st) = b.peek_state(o) else {
        return;
    };
    let mut bits = st.suppressed_notifications;
    if bits == 0 {
        return;
    }
    let applies = |kind: Kind| match kind {
        Kind::Problem => {
            st.has_result() && st.state != 0 && st.state != st.state_before_suppression
        }
        Kind::Recovery => {
            st.has_result() && st.state == 0 && st.state != st.state_before_suppression
        }
        Kind::FlappingStart => st.flapping,
        _ => !st.flapping,
    };
    let mut due = Vec::new();
    for kind in HELD_KINDS {
        if bits & kind.bit() != 0 && !applies(kind) {
            bits &= !kind.bit();
        }
    }
    if bits & STATE_KINDS != 0
        && !held_back(&st, notifiable)
        && st.state_type == crate::state::HARD
        && !likely_checked_soon(o, &st, b.now)
    {
        let kind = if st.state == 0 {
            Kind::Recovery
        } else {
            Kind::Problem
        };
        if applies(kind) {
            due.push(kind);
        }
        bits &= !STATE_KINDS;
    }
    for kind in [Kind::FlappingStart, Kind::FlappingEnd] {
        if bits & kind.bit() != 0 && st.downtime_depth == 0 {
            due.push(kind);
            bits &= !kind.bit();
        }
    }
    if bits != st.suppressed_notifications {
        if let Some(st) = b.state(o) {
            st.suppressed_notifications = bits;
        }
    }
    for kind in due {
        send(b, o, &Notice::of(kind));
    }
}

/// `NotificationComponent`'s `FireSuppressedNotifications(notification)`: what a
/// Notification's period held back goes out through that Notification once the period
/// has begun, if it still applies and nothing else holds it back (downtime,
/// acknowledgement, a failed dependency, flapping); what no longer applies is dropped.
fn release_stashed(b: &mut Batch, o: &Arc<Object>, notifiable: bool) {
    let Some(st) = b.peek_state(o) else {
        return;
    };
    let stashed: Vec<(String, u32)> = st
        .notifications
        .iter()
        .filter(|(_, ns)| ns.suppressed != 0)
        .map(|(name, ns)| (name.clone(), ns.suppressed))
        .collect();
    if stashed.is_empty() {
        return;
    }
    let applies = |kind: Kind| match kind {
        Kind::Problem => st.has_result() && st.state != 0 && st.state_type == crate::state::HARD,
        Kind::Recovery => st.has_result() && st.state == 0,
        Kind::FlappingStart => st.flapping,
        _ => !st.flapping,
    };
    let checked_soon = likely_checked_soon(o, &st, b.now);
    for (name, bits) in stashed {
        let mut keep = bits;
        let mut due = Vec::new();
        match b.get("Notification", &name) {
            // Gone from the configuration: nothing to send through.
            None => keep = 0,
            Some(n) => {
                let open = in_period(b, &n) && !checked_soon;
                for kind in HELD_KINDS {
                    if bits & kind.bit() == 0 {
                        continue;
                    }
                    let held = suppressed(kind, &st)
                        || (!notifiable && matches!(kind, Kind::Problem | Kind::Recovery));
                    if !applies(kind) {
                        keep &= !kind.bit();
                    } else if open && !held {
                        keep &= !kind.bit();
                        due.push(kind);
                    }
                }
            }
        }
        if let Some(st) = b.state(o) {
            if let Some(ns) = st.notifications.get_mut(&name) {
                ns.suppressed = keep;
            }
        }
        for kind in due {
            send_through(b, o, &Notice::of(kind), Through::Released(&name));
        }
    }
}

/// `Checkable::IsLikelyToBeCheckedSoon`: an active check is due within a minute (or
/// within its interval less 10 s, if shorter).
fn likely_checked_soon(o: &Object, st: &CheckableState, now: f64) -> bool {
    if !o.flag("enable_active_checks", true) {
        return false;
    }
    let threshold = (o.number("check_interval", 300.0) - 10.0).clamp(0.0, 60.0);
    st.next_check <= now + threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_back_notifications_are_looked_at_together() {
        for now in [1_800_000_000.0, 1_800_000_000.1, 1_800_000_004.9] {
            let at = suppressed_retry_at(now);
            assert!(at >= now + 5.0 && at < now + 10.0, "{now} → {at}");
            assert_eq!(at % 5.0, 0.0);
        }
        assert_eq!(
            suppressed_retry_at(1_800_000_001.0),
            suppressed_retry_at(1_800_000_004.0)
        );
    }
}
