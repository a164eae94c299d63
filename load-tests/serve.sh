# Sourced by the scripts that start a server and measure it (not run on its own).
#
#   serve BINARY CONFIG_DIR DATA_DIR PORT LOG
#
# Starts `BINARY serve` on 127.0.0.1:PORT with its log (at `info`) in LOG, emptied first,
# sets SERVER_PID, and returns once the server listens. A server that exits before prints
# its log and ends the calling script.
serve() {
  : > "$5"
  "$1" --log-level info serve --config "$2" --data-dir "$3" \
    --listen "127.0.0.1:$4" >> "$5" 2>&1 &
  SERVER_PID=$!
  until grep -q "Listening for HTTPS" "$5"; do
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$5"; exit 1; }
    sleep 0.05
  done
}
