#!/bin/sh
# Counts to $1 (default 10), one line (one message) every half second; then the connection closes.
n=${1:-10}
i=1
while [ "$i" -le "$n" ]; do
  echo "$i"
  i=$((i + 1))
  sleep 0.5
done
