# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_auspex_global_optspecs
    string join \n log-level= log-format= h/help V/version
end

function __fish_auspex_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_auspex_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_auspex_using_subcommand
    set -l cmd (__fish_auspex_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c auspex -n "__fish_auspex_needs_command" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_needs_command" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_needs_command" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_needs_command" -s V -l version -d 'Print version'
complete -c auspex -n "__fish_auspex_needs_command" -f -a "serve" -d 'Runs the server. On first start without a configuration it performs `api setup` and loads a demo that checks this machine'
complete -c auspex -n "__fish_auspex_needs_command" -f -a "agent" -d 'Runs a cluster agent: it follows the cluster\'s log, serves reads and event streams, runs its share of its zone\'s checks and forwards writes, but never leads'
complete -c auspex -n "__fish_auspex_needs_command" -f -a "api" -d 'API setup'
complete -c auspex -n "__fish_auspex_needs_command" -f -a "pki" -d 'Certificates: a CA, keys, signing requests'
complete -c auspex -n "__fish_auspex_needs_command" -f -a "check-config" -d 'Loads and validates the configuration; prints errors with file, line and caret'
complete -c auspex -n "__fish_auspex_needs_command" -f -a "completions" -d 'Prints a shell completion script (`auspex completions bash > /etc/bash_completion.d/auspex`)'
complete -c auspex -n "__fish_auspex_needs_command" -f -a "manpage" -d 'Prints the manual page (roff): `auspex manpage | man -l -`'
complete -c auspex -n "__fish_auspex_needs_command" -f -a "console" -d 'Evaluates an expression of the Icinga DSL and prints the result as JSON, as `icinga2 console --eval` does'
complete -c auspex -n "__fish_auspex_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l config -d 'Configuration directory (`conf.d` style, or with an `icinga2.conf` entry file). Default: `<data-dir>/etc`, written on first start' -r -F
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l data-dir -d 'Where certificates and state live' -r -F
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l node-name -d 'The node name (certificate CN). Default: the host name' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l event-retention -d 'Events kept in the journal for resuming event streams (`Last-Event-ID`, `since`)' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l filter-budget -d 'Seconds the filters of one request may evaluate before it is refused' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l filter-steps -d 'Evaluation steps the filters of one request may take together' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l console-budget -d 'Seconds one console script may run' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l max-connections -d 'Open connections at most (event streams included); when all are taken, the oldest one that has not authenticated yet makes room for a newcomer' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l max-connections-per-address -d 'Open connections from one client address at most' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l listen -d 'Address to listen on (HTTPS). Default: the ApiListener\'s, else 0.0.0.0:5665' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l client-certificates -d 'Whether the TLS handshake asks clients for a certificate: `request` (as Icinga; certificates of our CA authenticate, others fall back to Basic) or `off` (no certificate prompt in browsers; passwords and tokens only)' -r -f -a "request\t''
off\t''"
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l probes -d 'Who may read `/-/healthy` and `/-/ready`: `open` (no credentials), `authenticated`, or `off`' -r -f -a "open\t''
authenticated\t''
off\t''"
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l trusted-proxy -d 'A reverse proxy (address or network, e.g. `10.0.0.0/8`) whose `X-Forwarded-For` names the client; repeat for several' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l cluster -d 'The NATS server(s) with JetStream holding the cluster\'s log, e.g. `nats://127.0.0.1:4222` (comma-separated for several). Without it the node runs alone' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l cluster-name -d 'The cluster\'s name: nodes of one name share one log' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l cluster-zone -d 'This node\'s zone: its nodes share the checks of the objects in it (objects of zones without a live node go to this default zone\'s nodes)' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l cluster-lease -d 'Seconds a leader\'s lease lasts without renewal: a failed leader is replaced within about this time' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l cluster-replicas -d 'JetStream replicas of the log (the number of NATS servers to replicate over)' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l cluster-retention-hours -d 'Hours the log keeps records when it is created: a node stopped for longer starts from a copy of another node\'s store' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand serve" -l reinitialize -d 'Start with an empty store when the stored one is missing, empty or damaged (a damaged file is moved aside as `state.redb.corrupt-<time>`, never deleted)'
complete -c auspex -n "__fish_auspex_using_subcommand serve" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l config -d 'Configuration directory (`conf.d` style, or with an `icinga2.conf` entry file). Default: `<data-dir>/etc`, written on first start' -r -F
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l data-dir -d 'Where certificates and state live' -r -F
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l node-name -d 'The node name (certificate CN). Default: the host name' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l event-retention -d 'Events kept in the journal for resuming event streams (`Last-Event-ID`, `since`)' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l filter-budget -d 'Seconds the filters of one request may evaluate before it is refused' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l filter-steps -d 'Evaluation steps the filters of one request may take together' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l console-budget -d 'Seconds one console script may run' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l max-connections -d 'Open connections at most (event streams included); when all are taken, the oldest one that has not authenticated yet makes room for a newcomer' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l max-connections-per-address -d 'Open connections from one client address at most' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l listen -d 'Address to listen on (HTTPS). Default: the ApiListener\'s, else 0.0.0.0:5665' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l client-certificates -d 'Whether the TLS handshake asks clients for a certificate: `request` (as Icinga; certificates of our CA authenticate, others fall back to Basic) or `off` (no certificate prompt in browsers; passwords and tokens only)' -r -f -a "request\t''
off\t''"
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l probes -d 'Who may read `/-/healthy` and `/-/ready`: `open` (no credentials), `authenticated`, or `off`' -r -f -a "open\t''
authenticated\t''
off\t''"
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l trusted-proxy -d 'A reverse proxy (address or network, e.g. `10.0.0.0/8`) whose `X-Forwarded-For` names the client; repeat for several' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l cluster -d 'The NATS server(s) with JetStream holding the cluster\'s log, e.g. `nats://127.0.0.1:4222` (comma-separated for several). Without it the node runs alone' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l cluster-name -d 'The cluster\'s name: nodes of one name share one log' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l cluster-zone -d 'This node\'s zone: its nodes share the checks of the objects in it (objects of zones without a live node go to this default zone\'s nodes)' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l cluster-lease -d 'Seconds a leader\'s lease lasts without renewal: a failed leader is replaced within about this time' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l cluster-replicas -d 'JetStream replicas of the log (the number of NATS servers to replicate over)' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l cluster-retention-hours -d 'Hours the log keeps records when it is created: a node stopped for longer starts from a copy of another node\'s store' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand agent" -l reinitialize -d 'Start with an empty store when the stored one is missing, empty or damaged (a damaged file is moved aside as `state.redb.corrupt-<time>`, never deleted)'
complete -c auspex -n "__fish_auspex_using_subcommand agent" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand api; and not __fish_seen_subcommand_from setup help" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand api; and not __fish_seen_subcommand_from setup help" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand api; and not __fish_seen_subcommand_from setup help" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand api; and not __fish_seen_subcommand_from setup help" -f -a "setup" -d 'Creates the CA, the node certificate and an ApiUser `root` with a random password (also in a `--config` directory that is empty)'
complete -c auspex -n "__fish_auspex_using_subcommand api; and not __fish_seen_subcommand_from setup help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l config -d 'Configuration directory (`conf.d` style, or with an `icinga2.conf` entry file). Default: `<data-dir>/etc`, written on first start' -r -F
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l data-dir -d 'Where certificates and state live' -r -F
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l node-name -d 'The node name (certificate CN). Default: the host name' -r
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l event-retention -d 'Events kept in the journal for resuming event streams (`Last-Event-ID`, `since`)' -r
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l filter-budget -d 'Seconds the filters of one request may evaluate before it is refused' -r
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l filter-steps -d 'Evaluation steps the filters of one request may take together' -r
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l console-budget -d 'Seconds one console script may run' -r
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l max-connections -d 'Open connections at most (event streams included); when all are taken, the oldest one that has not authenticated yet makes room for a newcomer' -r
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l max-connections-per-address -d 'Open connections from one client address at most' -r
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l reinitialize -d 'Start with an empty store when the stored one is missing, empty or damaged (a damaged file is moved aside as `state.redb.corrupt-<time>`, never deleted)'
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -l demo -d 'Also write checks of this machine (with Debian\'s monitoring-plugins)'
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from setup" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from help" -f -a "setup" -d 'Creates the CA, the node certificate and an ApiUser `root` with a random password (also in a `--config` directory that is empty)'
complete -c auspex -n "__fish_auspex_using_subcommand api; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and not __fish_seen_subcommand_from new-ca new-cert sign-csr ticket save-cert help" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and not __fish_seen_subcommand_from new-ca new-cert sign-csr ticket save-cert help" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand pki; and not __fish_seen_subcommand_from new-ca new-cert sign-csr ticket save-cert help" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and not __fish_seen_subcommand_from new-ca new-cert sign-csr ticket save-cert help" -f -a "new-ca" -d 'Creates a new CA in `<data-dir>/ca`'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and not __fish_seen_subcommand_from new-ca new-cert sign-csr ticket save-cert help" -f -a "new-cert" -d 'Creates a key and a certificate signing request (or a self-signed certificate)'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and not __fish_seen_subcommand_from new-ca new-cert sign-csr ticket save-cert help" -f -a "sign-csr" -d 'Signs a certificate signing request with the CA'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and not __fish_seen_subcommand_from new-ca new-cert sign-csr ticket save-cert help" -f -a "ticket" -d 'Prints the ticket an agent or satellite with common name `--cn` presents to get its certificate signed: with `--salt`, or the configuration\'s `TicketSalt`'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and not __fish_seen_subcommand_from new-ca new-cert sign-csr ticket save-cert help" -f -a "save-cert" -d 'Fetches a server\'s certificate (to pin it as trusted)'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and not __fish_seen_subcommand_from new-ca new-cert sign-csr ticket save-cert help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from new-ca" -l data-dir -r -F
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from new-ca" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from new-ca" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from new-ca" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from new-cert" -l cn -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from new-cert" -l key -r -F
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from new-cert" -l csr -r -F
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from new-cert" -l cert -d 'Writes a certificate signed by the CA in `--data-dir` instead of a request' -r -F
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from new-cert" -l data-dir -r -F
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from new-cert" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from new-cert" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from new-cert" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from sign-csr" -l csr -r -F
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from sign-csr" -l cert -r -F
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from sign-csr" -l data-dir -r -F
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from sign-csr" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from sign-csr" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from sign-csr" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l cn -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l salt -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l config -d 'Configuration directory (`conf.d` style, or with an `icinga2.conf` entry file). Default: `<data-dir>/etc`, written on first start' -r -F
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l data-dir -d 'Where certificates and state live' -r -F
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l node-name -d 'The node name (certificate CN). Default: the host name' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l event-retention -d 'Events kept in the journal for resuming event streams (`Last-Event-ID`, `since`)' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l filter-budget -d 'Seconds the filters of one request may evaluate before it is refused' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l filter-steps -d 'Evaluation steps the filters of one request may take together' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l console-budget -d 'Seconds one console script may run' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l max-connections -d 'Open connections at most (event streams included); when all are taken, the oldest one that has not authenticated yet makes room for a newcomer' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l max-connections-per-address -d 'Open connections from one client address at most' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -l reinitialize -d 'Start with an empty store when the stored one is missing, empty or damaged (a damaged file is moved aside as `state.redb.corrupt-<time>`, never deleted)'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from ticket" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from save-cert" -l host -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from save-cert" -l port -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from save-cert" -l trustedcert -r -F
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from save-cert" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from save-cert" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from save-cert" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from help" -f -a "new-ca" -d 'Creates a new CA in `<data-dir>/ca`'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from help" -f -a "new-cert" -d 'Creates a key and a certificate signing request (or a self-signed certificate)'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from help" -f -a "sign-csr" -d 'Signs a certificate signing request with the CA'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from help" -f -a "ticket" -d 'Prints the ticket an agent or satellite with common name `--cn` presents to get its certificate signed: with `--salt`, or the configuration\'s `TicketSalt`'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from help" -f -a "save-cert" -d 'Fetches a server\'s certificate (to pin it as trusted)'
complete -c auspex -n "__fish_auspex_using_subcommand pki; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -l config -d 'Configuration directory (`conf.d` style, or with an `icinga2.conf` entry file). Default: `<data-dir>/etc`, written on first start' -r -F
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -l data-dir -d 'Where certificates and state live' -r -F
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -l node-name -d 'The node name (certificate CN). Default: the host name' -r
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -l event-retention -d 'Events kept in the journal for resuming event streams (`Last-Event-ID`, `since`)' -r
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -l filter-budget -d 'Seconds the filters of one request may evaluate before it is refused' -r
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -l filter-steps -d 'Evaluation steps the filters of one request may take together' -r
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -l console-budget -d 'Seconds one console script may run' -r
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -l max-connections -d 'Open connections at most (event streams included); when all are taken, the oldest one that has not authenticated yet makes room for a newcomer' -r
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -l max-connections-per-address -d 'Open connections from one client address at most' -r
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -l reinitialize -d 'Start with an empty store when the stored one is missing, empty or damaged (a damaged file is moved aside as `state.redb.corrupt-<time>`, never deleted)'
complete -c auspex -n "__fish_auspex_using_subcommand check-config" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand completions" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand completions" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand completions" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand manpage" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand manpage" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand manpage" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand console" -l eval -d 'The expression or script to evaluate' -r
complete -c auspex -n "__fish_auspex_using_subcommand console" -l log-level -d 'What standard output logs: `error`, `warn`, `info`, `debug`, `trace`, or a filter such as `info,auspex::api=debug`. Default: `RUST_LOG`, else `info`' -r
complete -c auspex -n "__fish_auspex_using_subcommand console" -l log-format -d 'How standard output logs: `text` or `json` (one object per line, for log shippers)' -r -f -a "text\t''
json\t''"
complete -c auspex -n "__fish_auspex_using_subcommand console" -s h -l help -d 'Print help'
complete -c auspex -n "__fish_auspex_using_subcommand help; and not __fish_seen_subcommand_from serve agent api pki check-config completions manpage console help" -f -a "serve" -d 'Runs the server. On first start without a configuration it performs `api setup` and loads a demo that checks this machine'
complete -c auspex -n "__fish_auspex_using_subcommand help; and not __fish_seen_subcommand_from serve agent api pki check-config completions manpage console help" -f -a "agent" -d 'Runs a cluster agent: it follows the cluster\'s log, serves reads and event streams, runs its share of its zone\'s checks and forwards writes, but never leads'
complete -c auspex -n "__fish_auspex_using_subcommand help; and not __fish_seen_subcommand_from serve agent api pki check-config completions manpage console help" -f -a "api" -d 'API setup'
complete -c auspex -n "__fish_auspex_using_subcommand help; and not __fish_seen_subcommand_from serve agent api pki check-config completions manpage console help" -f -a "pki" -d 'Certificates: a CA, keys, signing requests'
complete -c auspex -n "__fish_auspex_using_subcommand help; and not __fish_seen_subcommand_from serve agent api pki check-config completions manpage console help" -f -a "check-config" -d 'Loads and validates the configuration; prints errors with file, line and caret'
complete -c auspex -n "__fish_auspex_using_subcommand help; and not __fish_seen_subcommand_from serve agent api pki check-config completions manpage console help" -f -a "completions" -d 'Prints a shell completion script (`auspex completions bash > /etc/bash_completion.d/auspex`)'
complete -c auspex -n "__fish_auspex_using_subcommand help; and not __fish_seen_subcommand_from serve agent api pki check-config completions manpage console help" -f -a "manpage" -d 'Prints the manual page (roff): `auspex manpage | man -l -`'
complete -c auspex -n "__fish_auspex_using_subcommand help; and not __fish_seen_subcommand_from serve agent api pki check-config completions manpage console help" -f -a "console" -d 'Evaluates an expression of the Icinga DSL and prints the result as JSON, as `icinga2 console --eval` does'
complete -c auspex -n "__fish_auspex_using_subcommand help; and not __fish_seen_subcommand_from serve agent api pki check-config completions manpage console help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c auspex -n "__fish_auspex_using_subcommand help; and __fish_seen_subcommand_from api" -f -a "setup" -d 'Creates the CA, the node certificate and an ApiUser `root` with a random password (also in a `--config` directory that is empty)'
complete -c auspex -n "__fish_auspex_using_subcommand help; and __fish_seen_subcommand_from pki" -f -a "new-ca" -d 'Creates a new CA in `<data-dir>/ca`'
complete -c auspex -n "__fish_auspex_using_subcommand help; and __fish_seen_subcommand_from pki" -f -a "new-cert" -d 'Creates a key and a certificate signing request (or a self-signed certificate)'
complete -c auspex -n "__fish_auspex_using_subcommand help; and __fish_seen_subcommand_from pki" -f -a "sign-csr" -d 'Signs a certificate signing request with the CA'
complete -c auspex -n "__fish_auspex_using_subcommand help; and __fish_seen_subcommand_from pki" -f -a "ticket" -d 'Prints the ticket an agent or satellite with common name `--cn` presents to get its certificate signed: with `--salt`, or the configuration\'s `TicketSalt`'
complete -c auspex -n "__fish_auspex_using_subcommand help; and __fish_seen_subcommand_from pki" -f -a "save-cert" -d 'Fetches a server\'s certificate (to pin it as trusted)'
