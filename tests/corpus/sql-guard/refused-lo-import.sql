SELECT 1;
\lo_import /etc/shadow
