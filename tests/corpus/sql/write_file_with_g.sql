-- Writing a query result to a file on the runner.
SELECT 'pwned' \g @OUT@/write_file_with_g
