//! The actions of `/v1/actions/<name>`, by name.

/// An action Icinga's API offers (`unblock-address`, Auspex's own, belongs to the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ProcessCheckResult,
    /// Auspex's batch form of `process-check-result` (one commit for many results).
    ProcessCheckResults,
    RescheduleCheck,
    AcknowledgeProblem,
    RemoveAcknowledgement,
    AddComment,
    RemoveComment,
    ScheduleDowntime,
    RemoveDowntime,
    SendCustomNotification,
    DelayNotification,
    ExecuteCommand,
    ShutdownProcess,
    RestartProcess,
    GenerateTicket,
}

impl Action {
    pub const ALL: [Action; 15] = [
        Action::ProcessCheckResult,
        Action::ProcessCheckResults,
        Action::RescheduleCheck,
        Action::AcknowledgeProblem,
        Action::RemoveAcknowledgement,
        Action::AddComment,
        Action::RemoveComment,
        Action::ScheduleDowntime,
        Action::RemoveDowntime,
        Action::SendCustomNotification,
        Action::DelayNotification,
        Action::ExecuteCommand,
        Action::ShutdownProcess,
        Action::RestartProcess,
        Action::GenerateTicket,
    ];

    /// The name in the URL.
    pub fn name(self) -> &'static str {
        match self {
            Action::ProcessCheckResult => "process-check-result",
            Action::ProcessCheckResults => "process-check-results",
            Action::RescheduleCheck => "reschedule-check",
            Action::AcknowledgeProblem => "acknowledge-problem",
            Action::RemoveAcknowledgement => "remove-acknowledgement",
            Action::AddComment => "add-comment",
            Action::RemoveComment => "remove-comment",
            Action::ScheduleDowntime => "schedule-downtime",
            Action::RemoveDowntime => "remove-downtime",
            Action::SendCustomNotification => "send-custom-notification",
            Action::DelayNotification => "delay-notification",
            Action::ExecuteCommand => "execute-command",
            Action::ShutdownProcess => "shutdown-process",
            Action::RestartProcess => "restart-process",
            Action::GenerateTicket => "generate-ticket",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The permission that allows it: `actions/<name>`; the batch form needs that of the
    /// single one.
    pub fn permission(self) -> String {
        match self {
            Action::ProcessCheckResults => Action::ProcessCheckResult.permission(),
            a => format!("actions/{}", a.name()),
        }
    }

    /// Whether it acts on selected objects; the others act on the whole process, and only
    /// an unfiltered grant of their permission allows them.
    pub fn on_objects(self) -> bool {
        !matches!(
            self,
            Action::ShutdownProcess | Action::RestartProcess | Action::GenerateTicket
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a));
        }
        let mut names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        assert_eq!(Action::from_name("unblock-address"), None);
        assert_eq!(Action::from_name("Process-Check-Result"), None);
    }

    #[test]
    fn the_batch_needs_the_single_permission() {
        assert_eq!(
            Action::ProcessCheckResults.permission(),
            "actions/process-check-result"
        );
        assert_eq!(Action::AddComment.permission(), "actions/add-comment");
        assert!(!Action::GenerateTicket.on_objects());
        assert!(Action::ExecuteCommand.on_objects());
    }
}
