#compdef auspex

autoload -U is-at-least

_auspex() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_auspex_commands" \
"*::: :->auspex" \
&& ret=0
    case $state in
    (auspex)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:auspex-command-$line[1]:"
        case $line[1] in
            (serve)
_arguments "${_arguments_options[@]}" : \
'--config=[Configuration directory (\`conf.d\` style, or with an \`icinga2.conf\` entry file). Default\: \`<data-dir>/etc\`, written on first start]:CONFIG:_files' \
'--data-dir=[Where certificates and state live]:DATA_DIR:_files' \
'--node-name=[The node name (certificate CN). Default\: the host name]:NODE_NAME:_default' \
'--event-retention=[Events kept in the journal for resuming event streams (\`Last-Event-ID\`, \`since\`)]:EVENT_RETENTION:_default' \
'--filter-budget=[Seconds the filters of one request may evaluate before it is refused]:FILTER_BUDGET:_default' \
'--filter-steps=[Evaluation steps the filters of one request may take together]:FILTER_STEPS:_default' \
'--console-budget=[Seconds one console script may run]:CONSOLE_BUDGET:_default' \
'--max-connections=[Open connections at most (event streams included); when all are taken, the oldest one that has not authenticated yet makes room for a newcomer]:MAX_CONNECTIONS:_default' \
'--max-connections-per-address=[Open connections from one client address at most]:MAX_CONNECTIONS_PER_ADDRESS:_default' \
'--listen=[Address to listen on (HTTPS). Default\: the ApiListener'\''s, else 0.0.0.0\:5665]:LISTEN:_default' \
'--client-certificates=[Whether the TLS handshake asks clients for a certificate\: \`request\` (as Icinga; certificates of our CA authenticate, others fall back to Basic) or \`off\` (no certificate prompt in browsers; passwords and tokens only)]:CLIENT_CERTIFICATES:(request off)' \
'--probes=[Who may read \`/-/healthy\` and \`/-/ready\`\: \`open\` (no credentials), \`authenticated\`, or \`off\`]:PROBES:(open authenticated off)' \
'*--trusted-proxy=[A reverse proxy (address or network, e.g. \`10.0.0.0/8\`) whose \`X-Forwarded-For\` names the client; repeat for several]:NETWORK:_default' \
'--cluster=[The NATS server(s) with JetStream holding the cluster'\''s log, e.g. \`nats\://127.0.0.1\:4222\` (comma-separated for several). Without it the node runs alone]:URL:_default' \
'--cluster-name=[The cluster'\''s name\: nodes of one name share one log]:CLUSTER_NAME:_default' \
'--cluster-zone=[This node'\''s zone\: its nodes share the checks of the objects in it (objects of zones without a live node go to this default zone'\''s nodes)]:CLUSTER_ZONE:_default' \
'--cluster-lease=[Seconds a leader'\''s lease lasts without renewal\: a failed leader is replaced within about this time]:CLUSTER_LEASE:_default' \
'--cluster-replicas=[JetStream replicas of the log (the number of NATS servers to replicate over)]:CLUSTER_REPLICAS:_default' \
'--cluster-retention-hours=[Hours the log keeps records when it is created\: a node stopped for longer starts from a copy of another node'\''s store]:CLUSTER_RETENTION_HOURS:_default' \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'--reinitialize[Start with an empty store when the stored one is missing, empty or damaged (a damaged file is moved aside as \`state.redb.corrupt-<time>\`, never deleted)]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(agent)
_arguments "${_arguments_options[@]}" : \
'--config=[Configuration directory (\`conf.d\` style, or with an \`icinga2.conf\` entry file). Default\: \`<data-dir>/etc\`, written on first start]:CONFIG:_files' \
'--data-dir=[Where certificates and state live]:DATA_DIR:_files' \
'--node-name=[The node name (certificate CN). Default\: the host name]:NODE_NAME:_default' \
'--event-retention=[Events kept in the journal for resuming event streams (\`Last-Event-ID\`, \`since\`)]:EVENT_RETENTION:_default' \
'--filter-budget=[Seconds the filters of one request may evaluate before it is refused]:FILTER_BUDGET:_default' \
'--filter-steps=[Evaluation steps the filters of one request may take together]:FILTER_STEPS:_default' \
'--console-budget=[Seconds one console script may run]:CONSOLE_BUDGET:_default' \
'--max-connections=[Open connections at most (event streams included); when all are taken, the oldest one that has not authenticated yet makes room for a newcomer]:MAX_CONNECTIONS:_default' \
'--max-connections-per-address=[Open connections from one client address at most]:MAX_CONNECTIONS_PER_ADDRESS:_default' \
'--listen=[Address to listen on (HTTPS). Default\: the ApiListener'\''s, else 0.0.0.0\:5665]:LISTEN:_default' \
'--client-certificates=[Whether the TLS handshake asks clients for a certificate\: \`request\` (as Icinga; certificates of our CA authenticate, others fall back to Basic) or \`off\` (no certificate prompt in browsers; passwords and tokens only)]:CLIENT_CERTIFICATES:(request off)' \
'--probes=[Who may read \`/-/healthy\` and \`/-/ready\`\: \`open\` (no credentials), \`authenticated\`, or \`off\`]:PROBES:(open authenticated off)' \
'*--trusted-proxy=[A reverse proxy (address or network, e.g. \`10.0.0.0/8\`) whose \`X-Forwarded-For\` names the client; repeat for several]:NETWORK:_default' \
'--cluster=[The NATS server(s) with JetStream holding the cluster'\''s log, e.g. \`nats\://127.0.0.1\:4222\` (comma-separated for several). Without it the node runs alone]:URL:_default' \
'--cluster-name=[The cluster'\''s name\: nodes of one name share one log]:CLUSTER_NAME:_default' \
'--cluster-zone=[This node'\''s zone\: its nodes share the checks of the objects in it (objects of zones without a live node go to this default zone'\''s nodes)]:CLUSTER_ZONE:_default' \
'--cluster-lease=[Seconds a leader'\''s lease lasts without renewal\: a failed leader is replaced within about this time]:CLUSTER_LEASE:_default' \
'--cluster-replicas=[JetStream replicas of the log (the number of NATS servers to replicate over)]:CLUSTER_REPLICAS:_default' \
'--cluster-retention-hours=[Hours the log keeps records when it is created\: a node stopped for longer starts from a copy of another node'\''s store]:CLUSTER_RETENTION_HOURS:_default' \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'--reinitialize[Start with an empty store when the stored one is missing, empty or damaged (a damaged file is moved aside as \`state.redb.corrupt-<time>\`, never deleted)]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(api)
_arguments "${_arguments_options[@]}" : \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'-h[Print help]' \
'--help[Print help]' \
":: :_auspex__subcmd__api_commands" \
"*::: :->api" \
&& ret=0

    case $state in
    (api)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:auspex-api-command-$line[1]:"
        case $line[1] in
            (setup)
_arguments "${_arguments_options[@]}" : \
'--config=[Configuration directory (\`conf.d\` style, or with an \`icinga2.conf\` entry file). Default\: \`<data-dir>/etc\`, written on first start]:CONFIG:_files' \
'--data-dir=[Where certificates and state live]:DATA_DIR:_files' \
'--node-name=[The node name (certificate CN). Default\: the host name]:NODE_NAME:_default' \
'--event-retention=[Events kept in the journal for resuming event streams (\`Last-Event-ID\`, \`since\`)]:EVENT_RETENTION:_default' \
'--filter-budget=[Seconds the filters of one request may evaluate before it is refused]:FILTER_BUDGET:_default' \
'--filter-steps=[Evaluation steps the filters of one request may take together]:FILTER_STEPS:_default' \
'--console-budget=[Seconds one console script may run]:CONSOLE_BUDGET:_default' \
'--max-connections=[Open connections at most (event streams included); when all are taken, the oldest one that has not authenticated yet makes room for a newcomer]:MAX_CONNECTIONS:_default' \
'--max-connections-per-address=[Open connections from one client address at most]:MAX_CONNECTIONS_PER_ADDRESS:_default' \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'--reinitialize[Start with an empty store when the stored one is missing, empty or damaged (a damaged file is moved aside as \`state.redb.corrupt-<time>\`, never deleted)]' \
'--demo[Also write checks of this machine (with Debian'\''s monitoring-plugins)]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_auspex__subcmd__api__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:auspex-api-help-command-$line[1]:"
        case $line[1] in
            (setup)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(pki)
_arguments "${_arguments_options[@]}" : \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'-h[Print help]' \
'--help[Print help]' \
":: :_auspex__subcmd__pki_commands" \
"*::: :->pki" \
&& ret=0

    case $state in
    (pki)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:auspex-pki-command-$line[1]:"
        case $line[1] in
            (new-ca)
_arguments "${_arguments_options[@]}" : \
'--data-dir=[]:DATA_DIR:_files' \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(new-cert)
_arguments "${_arguments_options[@]}" : \
'--cn=[]:CN:_default' \
'--key=[]:KEY:_files' \
'--csr=[]:CSR:_files' \
'--cert=[Writes a certificate signed by the CA in \`--data-dir\` instead of a request]:CERT:_files' \
'--data-dir=[]:DATA_DIR:_files' \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(sign-csr)
_arguments "${_arguments_options[@]}" : \
'--csr=[]:CSR:_files' \
'--cert=[]:CERT:_files' \
'--data-dir=[]:DATA_DIR:_files' \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(ticket)
_arguments "${_arguments_options[@]}" : \
'--cn=[]:CN:_default' \
'--salt=[]:SALT:_default' \
'--config=[Configuration directory (\`conf.d\` style, or with an \`icinga2.conf\` entry file). Default\: \`<data-dir>/etc\`, written on first start]:CONFIG:_files' \
'--data-dir=[Where certificates and state live]:DATA_DIR:_files' \
'--node-name=[The node name (certificate CN). Default\: the host name]:NODE_NAME:_default' \
'--event-retention=[Events kept in the journal for resuming event streams (\`Last-Event-ID\`, \`since\`)]:EVENT_RETENTION:_default' \
'--filter-budget=[Seconds the filters of one request may evaluate before it is refused]:FILTER_BUDGET:_default' \
'--filter-steps=[Evaluation steps the filters of one request may take together]:FILTER_STEPS:_default' \
'--console-budget=[Seconds one console script may run]:CONSOLE_BUDGET:_default' \
'--max-connections=[Open connections at most (event streams included); when all are taken, the oldest one that has not authenticated yet makes room for a newcomer]:MAX_CONNECTIONS:_default' \
'--max-connections-per-address=[Open connections from one client address at most]:MAX_CONNECTIONS_PER_ADDRESS:_default' \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'--reinitialize[Start with an empty store when the stored one is missing, empty or damaged (a damaged file is moved aside as \`state.redb.corrupt-<time>\`, never deleted)]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(save-cert)
_arguments "${_arguments_options[@]}" : \
'--host=[]:HOST:_default' \
'--port=[]:PORT:_default' \
'--trustedcert=[]:TRUSTEDCERT:_files' \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_auspex__subcmd__pki__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:auspex-pki-help-command-$line[1]:"
        case $line[1] in
            (new-ca)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(new-cert)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(sign-csr)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(ticket)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(save-cert)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(check-config)
_arguments "${_arguments_options[@]}" : \
'--config=[Configuration directory (\`conf.d\` style, or with an \`icinga2.conf\` entry file). Default\: \`<data-dir>/etc\`, written on first start]:CONFIG:_files' \
'--data-dir=[Where certificates and state live]:DATA_DIR:_files' \
'--node-name=[The node name (certificate CN). Default\: the host name]:NODE_NAME:_default' \
'--event-retention=[Events kept in the journal for resuming event streams (\`Last-Event-ID\`, \`since\`)]:EVENT_RETENTION:_default' \
'--filter-budget=[Seconds the filters of one request may evaluate before it is refused]:FILTER_BUDGET:_default' \
'--filter-steps=[Evaluation steps the filters of one request may take together]:FILTER_STEPS:_default' \
'--console-budget=[Seconds one console script may run]:CONSOLE_BUDGET:_default' \
'--max-connections=[Open connections at most (event streams included); when all are taken, the oldest one that has not authenticated yet makes room for a newcomer]:MAX_CONNECTIONS:_default' \
'--max-connections-per-address=[Open connections from one client address at most]:MAX_CONNECTIONS_PER_ADDRESS:_default' \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'--reinitialize[Start with an empty store when the stored one is missing, empty or damaged (a damaged file is moved aside as \`state.redb.corrupt-<time>\`, never deleted)]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'-h[Print help]' \
'--help[Print help]' \
':shell:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(manpage)
_arguments "${_arguments_options[@]}" : \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(console)
_arguments "${_arguments_options[@]}" : \
'--eval=[The expression or script to evaluate]:EVAL:_default' \
'--log-level=[What standard output logs\: \`error\`, \`warn\`, \`info\`, \`debug\`, \`trace\`, or a filter such as \`info,auspex\:\:api=debug\`. Default\: \`RUST_LOG\`, else \`info\`]:LOG_LEVEL:_default' \
'--log-format=[How standard output logs\: \`text\` or \`json\` (one object per line, for log shippers)]:LOG_FORMAT:(text json)' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_auspex__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:auspex-help-command-$line[1]:"
        case $line[1] in
            (serve)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(agent)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(api)
_arguments "${_arguments_options[@]}" : \
":: :_auspex__subcmd__help__subcmd__api_commands" \
"*::: :->api" \
&& ret=0

    case $state in
    (api)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:auspex-help-api-command-$line[1]:"
        case $line[1] in
            (setup)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(pki)
_arguments "${_arguments_options[@]}" : \
":: :_auspex__subcmd__help__subcmd__pki_commands" \
"*::: :->pki" \
&& ret=0

    case $state in
    (pki)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:auspex-help-pki-command-$line[1]:"
        case $line[1] in
            (new-ca)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(new-cert)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(sign-csr)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(ticket)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(save-cert)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(check-config)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(manpage)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(console)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_auspex_commands] )) ||
_auspex_commands() {
    local commands; commands=(
'serve:Runs the server. On first start without a configuration it performs \`api setup\` and loads a demo that checks this machine' \
'agent:Runs a cluster agent\: it follows the cluster'\''s log, serves reads and event streams, runs its share of its zone'\''s checks and forwards writes, but never leads' \
'api:API setup' \
'pki:Certificates\: a CA, keys, signing requests' \
'check-config:Loads and validates the configuration; prints errors with file, line and caret' \
'completions:Prints a shell completion script (\`auspex completions bash > /etc/bash_completion.d/auspex\`)' \
'manpage:Prints the manual page (roff)\: \`auspex manpage | man -l -\`' \
'console:Evaluates an expression of the Icinga DSL and prints the result as JSON, as \`icinga2 console --eval\` does' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'auspex commands' commands "$@"
}
(( $+functions[_auspex__subcmd__agent_commands] )) ||
_auspex__subcmd__agent_commands() {
    local commands; commands=()
    _describe -t commands 'auspex agent commands' commands "$@"
}
(( $+functions[_auspex__subcmd__api_commands] )) ||
_auspex__subcmd__api_commands() {
    local commands; commands=(
'setup:Creates the CA, the node certificate and an ApiUser \`root\` with a random password (also in a \`--config\` directory that is empty)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'auspex api commands' commands "$@"
}
(( $+functions[_auspex__subcmd__api__subcmd__help_commands] )) ||
_auspex__subcmd__api__subcmd__help_commands() {
    local commands; commands=(
'setup:Creates the CA, the node certificate and an ApiUser \`root\` with a random password (also in a \`--config\` directory that is empty)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'auspex api help commands' commands "$@"
}
(( $+functions[_auspex__subcmd__api__subcmd__help__subcmd__help_commands] )) ||
_auspex__subcmd__api__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'auspex api help help commands' commands "$@"
}
(( $+functions[_auspex__subcmd__api__subcmd__help__subcmd__setup_commands] )) ||
_auspex__subcmd__api__subcmd__help__subcmd__setup_commands() {
    local commands; commands=()
    _describe -t commands 'auspex api help setup commands' commands "$@"
}
(( $+functions[_auspex__subcmd__api__subcmd__setup_commands] )) ||
_auspex__subcmd__api__subcmd__setup_commands() {
    local commands; commands=()
    _describe -t commands 'auspex api setup commands' commands "$@"
}
(( $+functions[_auspex__subcmd__check-config_commands] )) ||
_auspex__subcmd__check-config_commands() {
    local commands; commands=()
    _describe -t commands 'auspex check-config commands' commands "$@"
}
(( $+functions[_auspex__subcmd__completions_commands] )) ||
_auspex__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'auspex completions commands' commands "$@"
}
(( $+functions[_auspex__subcmd__console_commands] )) ||
_auspex__subcmd__console_commands() {
    local commands; commands=()
    _describe -t commands 'auspex console commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help_commands] )) ||
_auspex__subcmd__help_commands() {
    local commands; commands=(
'serve:Runs the server. On first start without a configuration it performs \`api setup\` and loads a demo that checks this machine' \
'agent:Runs a cluster agent\: it follows the cluster'\''s log, serves reads and event streams, runs its share of its zone'\''s checks and forwards writes, but never leads' \
'api:API setup' \
'pki:Certificates\: a CA, keys, signing requests' \
'check-config:Loads and validates the configuration; prints errors with file, line and caret' \
'completions:Prints a shell completion script (\`auspex completions bash > /etc/bash_completion.d/auspex\`)' \
'manpage:Prints the manual page (roff)\: \`auspex manpage | man -l -\`' \
'console:Evaluates an expression of the Icinga DSL and prints the result as JSON, as \`icinga2 console --eval\` does' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'auspex help commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__agent_commands] )) ||
_auspex__subcmd__help__subcmd__agent_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help agent commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__api_commands] )) ||
_auspex__subcmd__help__subcmd__api_commands() {
    local commands; commands=(
'setup:Creates the CA, the node certificate and an ApiUser \`root\` with a random password (also in a \`--config\` directory that is empty)' \
    )
    _describe -t commands 'auspex help api commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__api__subcmd__setup_commands] )) ||
_auspex__subcmd__help__subcmd__api__subcmd__setup_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help api setup commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__check-config_commands] )) ||
_auspex__subcmd__help__subcmd__check-config_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help check-config commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__completions_commands] )) ||
_auspex__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help completions commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__console_commands] )) ||
_auspex__subcmd__help__subcmd__console_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help console commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__help_commands] )) ||
_auspex__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help help commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__manpage_commands] )) ||
_auspex__subcmd__help__subcmd__manpage_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help manpage commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__pki_commands] )) ||
_auspex__subcmd__help__subcmd__pki_commands() {
    local commands; commands=(
'new-ca:Creates a new CA in \`<data-dir>/ca\`' \
'new-cert:Creates a key and a certificate signing request (or a self-signed certificate)' \
'sign-csr:Signs a certificate signing request with the CA' \
'ticket:Prints the ticket an agent or satellite with common name \`--cn\` presents to get its certificate signed\: with \`--salt\`, or the configuration'\''s \`TicketSalt\`' \
'save-cert:Fetches a server'\''s certificate (to pin it as trusted)' \
    )
    _describe -t commands 'auspex help pki commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__pki__subcmd__new-ca_commands] )) ||
_auspex__subcmd__help__subcmd__pki__subcmd__new-ca_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help pki new-ca commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__pki__subcmd__new-cert_commands] )) ||
_auspex__subcmd__help__subcmd__pki__subcmd__new-cert_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help pki new-cert commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__pki__subcmd__save-cert_commands] )) ||
_auspex__subcmd__help__subcmd__pki__subcmd__save-cert_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help pki save-cert commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__pki__subcmd__sign-csr_commands] )) ||
_auspex__subcmd__help__subcmd__pki__subcmd__sign-csr_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help pki sign-csr commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__pki__subcmd__ticket_commands] )) ||
_auspex__subcmd__help__subcmd__pki__subcmd__ticket_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help pki ticket commands' commands "$@"
}
(( $+functions[_auspex__subcmd__help__subcmd__serve_commands] )) ||
_auspex__subcmd__help__subcmd__serve_commands() {
    local commands; commands=()
    _describe -t commands 'auspex help serve commands' commands "$@"
}
(( $+functions[_auspex__subcmd__manpage_commands] )) ||
_auspex__subcmd__manpage_commands() {
    local commands; commands=()
    _describe -t commands 'auspex manpage commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki_commands] )) ||
_auspex__subcmd__pki_commands() {
    local commands; commands=(
'new-ca:Creates a new CA in \`<data-dir>/ca\`' \
'new-cert:Creates a key and a certificate signing request (or a self-signed certificate)' \
'sign-csr:Signs a certificate signing request with the CA' \
'ticket:Prints the ticket an agent or satellite with common name \`--cn\` presents to get its certificate signed\: with \`--salt\`, or the configuration'\''s \`TicketSalt\`' \
'save-cert:Fetches a server'\''s certificate (to pin it as trusted)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'auspex pki commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki__subcmd__help_commands] )) ||
_auspex__subcmd__pki__subcmd__help_commands() {
    local commands; commands=(
'new-ca:Creates a new CA in \`<data-dir>/ca\`' \
'new-cert:Creates a key and a certificate signing request (or a self-signed certificate)' \
'sign-csr:Signs a certificate signing request with the CA' \
'ticket:Prints the ticket an agent or satellite with common name \`--cn\` presents to get its certificate signed\: with \`--salt\`, or the configuration'\''s \`TicketSalt\`' \
'save-cert:Fetches a server'\''s certificate (to pin it as trusted)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'auspex pki help commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki__subcmd__help__subcmd__help_commands] )) ||
_auspex__subcmd__pki__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'auspex pki help help commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki__subcmd__help__subcmd__new-ca_commands] )) ||
_auspex__subcmd__pki__subcmd__help__subcmd__new-ca_commands() {
    local commands; commands=()
    _describe -t commands 'auspex pki help new-ca commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki__subcmd__help__subcmd__new-cert_commands] )) ||
_auspex__subcmd__pki__subcmd__help__subcmd__new-cert_commands() {
    local commands; commands=()
    _describe -t commands 'auspex pki help new-cert commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki__subcmd__help__subcmd__save-cert_commands] )) ||
_auspex__subcmd__pki__subcmd__help__subcmd__save-cert_commands() {
    local commands; commands=()
    _describe -t commands 'auspex pki help save-cert commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki__subcmd__help__subcmd__sign-csr_commands] )) ||
_auspex__subcmd__pki__subcmd__help__subcmd__sign-csr_commands() {
    local commands; commands=()
    _describe -t commands 'auspex pki help sign-csr commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki__subcmd__help__subcmd__ticket_commands] )) ||
_auspex__subcmd__pki__subcmd__help__subcmd__ticket_commands() {
    local commands; commands=()
    _describe -t commands 'auspex pki help ticket commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki__subcmd__new-ca_commands] )) ||
_auspex__subcmd__pki__subcmd__new-ca_commands() {
    local commands; commands=()
    _describe -t commands 'auspex pki new-ca commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki__subcmd__new-cert_commands] )) ||
_auspex__subcmd__pki__subcmd__new-cert_commands() {
    local commands; commands=()
    _describe -t commands 'auspex pki new-cert commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki__subcmd__save-cert_commands] )) ||
_auspex__subcmd__pki__subcmd__save-cert_commands() {
    local commands; commands=()
    _describe -t commands 'auspex pki save-cert commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki__subcmd__sign-csr_commands] )) ||
_auspex__subcmd__pki__subcmd__sign-csr_commands() {
    local commands; commands=()
    _describe -t commands 'auspex pki sign-csr commands' commands "$@"
}
(( $+functions[_auspex__subcmd__pki__subcmd__ticket_commands] )) ||
_auspex__subcmd__pki__subcmd__ticket_commands() {
    local commands; commands=()
    _describe -t commands 'auspex pki ticket commands' commands "$@"
}
(( $+functions[_auspex__subcmd__serve_commands] )) ||
_auspex__subcmd__serve_commands() {
    local commands; commands=()
    _describe -t commands 'auspex serve commands' commands "$@"
}

if [ "$funcstack[1]" = "_auspex" ]; then
    _auspex "$@"
else
    compdef _auspex auspex
fi
