//! A PostgreSQL server named by a `postgres://` URL, as the `PG*` variables libpq reads. The
//! URL holds a password: it is never put on a command line (other users can read those in
//! `/proc`), only into the environment of the client programs, and every error or detail that
//! could quote it goes through [`crate::process::redact`].

use percent_encoding::percent_decode_str;
use url::Url;

#[cfg(test)]
use crate::process::redact;

/// URL query parameters and the libpq variables that carry them.
const PARAMS: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("dbname", "PGDATABASE"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("sslcrl", "PGSSLCRL"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("application_name", "PGAPPNAME"),
    ("options", "PGOPTIONS"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
    ("channel_binding", "PGCHANNELBINDING"),
    ("gssencmode", "PGGSSENCMODE"),
    ("passfile", "PGPASSFILE"),
];

/// A PostgreSQL server, as libpq variables (the database left out).
#[derive(Clone, Debug)]
pub struct Server {
    /// Host, port, TLS and the admin's credentials (`PGUSER`, `PGPASSWORD`).
    pub env: Vec<(String, String)>,
    /// The database to connect to for CREATE / DROP.
    pub maintenance_db: String,
    /// `host:port`, for details (no credentials).
    pub shown: String,
    /// The URL, the base of the one validation commands get (`DR_RESTORE_DATABASE_URL`).
    pub url: Url,
    pub secrets: Vec<String>,
}

impl Server {
    /// Parses a `postgres://` / `postgresql://` URL. Errors never quote it.
    pub fn from_url(text: &str) -> Result<Server, String> {
        let url = Url::parse(text.trim()).map_err(|e| {
            format!("not a postgres:// URL ({e}); write it like postgres://user:password@host:5432/postgres")
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(format!(
                "the URL's scheme is `{}`, expected postgres:// or postgresql://",
                url.scheme()
            ));
        }
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| "the URL has invalid percent-encoding".to_string())
        };
        let mut env: Vec<(String, String)> = vec![("PGCONNECT_TIMEOUT".into(), "10".into())];
        let mut set = |k: &str, v: String| {
            env.retain(|(key, _)| key != k);
            env.push((k.to_string(), v));
        };
        let mut secrets = vec![text.trim().to_string()];
        let mut host = url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
            .filter(|h| !h.is_empty());
        if let Some(h) = &host {
            let h = decode(h)?;
            set("PGHOST", h.clone());
            host = Some(h);
        }
        if let Some(port) = url.port() {
            set("PGPORT", port.to_string());
        }
        if !url.username().is_empty() {
            set("PGUSER", decode(url.username())?);
        }
        if let Some(pw) = url.password() {
            let plain = decode(pw)?;
            secrets.push(pw.to_string());
            secrets.push(plain.clone());
            set("PGPASSWORD", plain);
        }
        let mut db = decode(url.path().trim_start_matches('/'))?;
        for (key, value) in url.query_pairs() {
            let Some((_, var)) = PARAMS.iter().find(|(k, _)| *k == key) else {
                return Err(format!(
                    "the URL's parameter `{key}` is not supported here (supported: {})",
                    PARAMS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            match *var {
                "PGDATABASE" => db = value.into_owned(),
                "PGPASSWORD" => {
                    secrets.push(value.to_string());
                    set(var, value.into_owned());
                }
                "PGHOST" => {
                    host = Some(value.to_string());
                    set(var, value.into_owned());
                }
                _ => set(var, value.into_owned()),
            }
        }
        if db.is_empty() {
            db = "postgres".to_string();
        }
        let port = env
            .iter()
            .find(|(k, _)| k == "PGPORT")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "5432".into());
        let shown = format!("{}:{port}", host.as_deref().unwrap_or("local socket"));
        secrets.retain(|s| s.len() >= 3);
        Ok(Server {
            env,
            maintenance_db: db,
            shown,
            url,
            secrets,
        })
    }

    /// The `PG*` variables that reach database `db` as the URL's own user.
    pub fn env_admin(&self, db: &str) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.push(("PGDATABASE".into(), db.to_string()));
        env
    }

    /// The `PG*` variables that reach database `db` on this server as another user.
    pub fn env_as(&self, user: &str, password: &str, db: &str) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .env
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "PGUSER" | "PGPASSWORD" | "PGPASSFILE"))
            .cloned()
            .collect();
        env.push(("PGUSER".into(), user.to_string()));
        env.push(("PGPASSWORD".into(), password.to_string()));
        env.push(("PGDATABASE".into(), db.to_string()));
        env
    }

    /// The URL that reaches database `db` on this server as another user.
    pub fn url_as(&self, user: &str, password: &str, db: &str) -> String {
        let mut url = self.url.clone();
        // Host-less URLs (`postgres:///db?host=/run/postgresql`) cannot carry a user: there
        // the user goes into the query instead.
        let in_authority =
            url.set_username(user).is_ok() && url.set_password(Some(password)).is_ok();
        url.set_path(&format!("/{db}"));
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !matches!(k.as_ref(), "dbname" | "user" | "password" | "passfile"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if !in_authority {
            pairs.push(("user".into(), user.into()));
            pairs.push(("password".into(), password.into()));
        }
        if pairs.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        url.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(s: &'a Server, k: &str) -> Option<&'a str> {
        s.env
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_url_becomes_libpq_variables() {
        let s =
            Server::from_url("postgres://dr%40ops:s3cr%2Ft@db.example:6543/admin?sslmode=require")
                .unwrap();
        assert_eq!(env(&s, "PGHOST"), Some("db.example"));
        assert_eq!(env(&s, "PGPORT"), Some("6543"));
        assert_eq!(env(&s, "PGUSER"), Some("dr@ops"));
        assert_eq!(env(&s, "PGPASSWORD"), Some("s3cr/t"));
        assert_eq!(env(&s, "PGSSLMODE"), Some("require"));
        assert_eq!(s.maintenance_db, "admin");
        assert_eq!(s.shown, "db.example:6543");
        let s = Server::from_url("postgresql://u@[::1]/").unwrap();
        assert_eq!(env(&s, "PGHOST"), Some("::1"));
        assert_eq!(s.maintenance_db, "postgres");
        let s = Server::from_url("postgres:///postgres?host=/run/postgresql").unwrap();
        assert_eq!(env(&s, "PGHOST"), Some("/run/postgresql"));
    }

    #[test]
    fn errors_and_redaction_never_show_the_password() {
        let url = "mysql://u:hunter22@h/db";
        let err = Server::from_url(url).unwrap_err();
        assert!(!err.contains("hunter22"), "{err}");
        let err = Server::from_url("postgres://u:hunter22@h/db?bogus=1").unwrap_err();
        assert!(!err.contains("hunter22") && err.contains("bogus"), "{err}");
        let s = Server::from_url("postgres://u:hunter%2122@h/db").unwrap();
        let text = "failed for postgres://u:hunter%2122@h/db and hunter!22 and hunter%2122";
        let r = redact(text, &s.secrets);
        assert!(!r.contains("hunter"), "{r}");
    }

    #[test]
    fn commands_get_a_url_to_the_scratch_database_as_the_role() {
        let server = Server::from_url("postgres://u:pw1@h:5/postgres?sslmode=disable").unwrap();
        assert_eq!(
            server.url_as("r", "p w", "dr_restore_x"),
            "postgres://r:p%20w@h:5/dr_restore_x?sslmode=disable"
        );
        let socket = Server::from_url("postgres:///postgres?host=/run/pg&user=u").unwrap();
        assert_eq!(
            socket.url_as("r", "pw", "d"),
            "postgres:///d?host=%2Frun%2Fpg&user=r&password=pw"
        );
        let env = server.env_as("r", "pw2", "d");
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("PGUSER"), Some("r"));
        assert_eq!(get("PGPASSWORD"), Some("pw2"));
        assert_eq!(get("PGHOST"), Some("h"));
        assert_eq!(get("PGDATABASE"), Some("d"));
    }
}
