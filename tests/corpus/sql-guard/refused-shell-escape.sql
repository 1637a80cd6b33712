SELECT 1;
\! touch /tmp/dr-action-pwned
