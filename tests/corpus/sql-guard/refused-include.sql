\i /etc/passwd
