\setenv PGPASSWORD stolen
