-- A shell command behind 70 spaces, past a line-start check's look-ahead.
                                                                      \! env > @OUT@/shell_escape_indented
