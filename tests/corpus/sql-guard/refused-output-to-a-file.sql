\o /tmp/dr-action-out
SELECT 'written outside';
