//! Stateful loopback fakes: a GitHub REST API that keeps a repository (refs, commits, trees,
//! blobs, contents), issues, comments and labels between calls, and a Slack incoming webhook
//! with a script of answers. Both record every request as received, so tests assert on what
//! the server saw — never on a request the test built itself.
//!
//! The GitHub fake checks every request's `Authorization` and `X-GitHub-Api-Version` and
//! answers 401 (and records a violation) when they are wrong, so a missing header fails loudly.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

/// A request as the fake received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    pub raw_body: String,
}

/// An answer: status, headers, body.
pub type Answer = (u16, Vec<(String, String)>, String);

type Handler = Arc<dyn Fn(Recorded) -> Answer + Send + Sync>;

/// Serves `handler` on a loopback port from a thread of its own; returns the base URL.
fn serve(handler: Handler) -> String {
    let addr = crate::util::spawn_loopback(move |stream| {
        let handler = handler.clone();
        async move {
            let service = hyper::service::service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, hyper::Error>(respond(handler, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        }
    });
    format!("http://{addr}")
}

async fn respond(
    handler: Handler,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let raw_body = String::from_utf8_lossy(&bytes).into_owned();
    let recorded = Recorded {
        at: Instant::now(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        raw_body,
    };
    let (status, headers, body) = handler(recorded);
    let mut resp = hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        resp = resp.header(k, v);
    }
    resp.body(Full::new(Bytes::from(body))).unwrap()
}

fn sha1_hex(data: &[u8]) -> String {
    hex::encode(Sha1::digest(data))
}

/// The git blob id, as git computes it.
pub fn blob_sha(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

#[derive(Clone, Debug)]
pub struct Commit {
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub state: String,
    pub comments: Vec<String>,
}

/// Everything the GitHub fake holds.
pub struct GitHubState {
    pub token: String,
    pub owner_repo: String,
    pub default_branch: String,
    pub refs: BTreeMap<String, String>,
    pub commits: HashMap<String, Commit>,
    /// Flat trees: path → blob id.
    pub trees: HashMap<String, BTreeMap<String, String>>,
    pub blobs: HashMap<String, Vec<u8>>,
    pub issues: Vec<Issue>,
    pub labels: BTreeSet<String>,
    pub requests: Vec<Recorded>,
    pub violations: Vec<String>,
    /// (method, path suffix, status): answered once, instead of the real thing.
    pub faults: VecDeque<(String, String, u16)>,
    /// (method, path suffix, status): done for real, then answered with `status` once (a
    /// gateway that timed out after the work was done).
    pub faults_after: VecDeque<(String, String, u16)>,
    /// Before the next ref update, someone else pushes a commit (once).
    pub move_ref_before_update: bool,
    /// The files of that push (path, bytes); empty means `other.txt`.
    pub concurrent_files: Vec<(String, Vec<u8>)>,
    counter: u64,
}

impl GitHubState {
    fn put_tree(&mut self, tree: BTreeMap<String, String>) -> String {
        let text: String = tree.iter().map(|(p, s)| format!("{p} {s}\n")).collect();
        let sha = sha1_hex(format!("tree\n{text}").as_bytes());
        self.trees.insert(sha.clone(), tree);
        sha
    }

    fn put_commit(&mut self, tree: String, parents: Vec<String>, message: String) -> String {
        self.counter += 1;
        let sha =
            sha1_hex(format!("commit {tree} {parents:?} {message} {}", self.counter).as_bytes());
        self.commits.insert(
            sha.clone(),
            Commit {
                tree,
                parents,
                message,
            },
        );
        sha
    }

    /// Commits `files` on top of `branch` directly (someone else's push).
    pub fn push(&mut self, branch: &str, files: &[(&str, &[u8])], message: &str) -> String {
        let head = self.refs.get(branch).cloned();
        let mut tree = head
            .as_ref()
            .map(|h| self.trees[&self.commits[h].tree].clone())
            .unwrap_or_default();
        for (path, bytes) in files {
            let sha = blob_sha(bytes);
            self.blobs.insert(sha.clone(), bytes.to_vec());
            tree.insert(path.to_string(), sha);
        }
        let tree_sha = self.put_tree(tree);
        let commit = self.put_commit(tree_sha, head.into_iter().collect(), message.to_string());
        self.refs.insert(branch.to_string(), commit.clone());
        commit
    }

    /// A file on the head of the default branch.
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        let head = self.refs.get(&self.default_branch)?;
        let blob = self.trees[&self.commits[head].tree].get(path)?;
        self.blobs.get(blob).cloned()
    }

    pub fn head(&self) -> String {
        self.refs[&self.default_branch].clone()
    }

    pub fn head_commit(&self) -> Commit {
        self.commits[&self.head()].clone()
    }

    /// Requests with this method whose path ends with `suffix`.
    pub fn count(&self, method: &str, suffix: &str) -> usize {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .count()
    }

    pub fn find(&self, method: &str, suffix: &str) -> Vec<Recorded> {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .cloned()
            .collect()
    }

    pub fn open_issues(&self) -> Vec<Issue> {
        self.issues
            .iter()
            .filter(|i| i.state == "open")
            .cloned()
            .collect()
    }

    /// Adds an issue as if opened earlier.
    pub fn add_issue(&mut self, title: &str, body: &str, labels: &[&str]) -> u64 {
        let number = self.issues.len() as u64 + 1;
        self.issues.push(Issue {
            number,
            title: title.into(),
            body: body.into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            state: "open".into(),
            comments: Vec::new(),
        });
        self.labels.extend(labels.iter().map(|l| l.to_string()));
        number
    }

    fn issue_json(&self, i: &Issue) -> Value {
        json!({
            "id": 1000 + i.number, "number": i.number, "title": i.title, "body": i.body,
            "state": i.state,
            "labels": i.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
            "html_url": format!("https://github.example/{}/issues/{}", self.owner_repo, i.number),
        })
    }
}

/// The GitHub fake.
#[derive(Clone)]
pub struct FakeGitHub {
    pub url: String,
    pub state: Arc<Mutex<GitHubState>>,
}

fn ok(status: u16, body: Value) -> Answer {
    (status, Vec::new(), body.to_string())
}

fn err(status: u16, message: &str) -> Answer {
    ok(
        status,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest"}),
    )
}

impl FakeGitHub {
    /// A repository `acme/app` whose `main` holds a README, and a token it accepts.
    pub fn start(token: &str) -> Self {
        let mut st = GitHubState {
            token: token.into(),
            owner_repo: "acme/app".into(),
            default_branch: "main".into(),
            refs: BTreeMap::new(),
            commits: HashMap::new(),
            trees: HashMap::new(),
            blobs: HashMap::new(),
            issues: Vec::new(),
            labels: BTreeSet::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            faults: VecDeque::new(),
            faults_after: VecDeque::new(),
            move_ref_before_update: false,
            concurrent_files: Vec::new(),
            counter: 0,
        };
        st.push("main", &[("README.md", b"# app\n")], "initial");
        let state = Arc::new(Mutex::new(st));
        let s = state.clone();
        let url = serve(Arc::new(move |req: Recorded| {
            let mut st = s.lock().unwrap();
            let (method, path) = (req.method.clone(), req.path.clone());
            let answer = handle(&mut st, req);
            match st
                .faults_after
                .iter()
                .position(|(m, p, _)| *m == method && path.ends_with(p.as_str()))
            {
                Some(pos) => {
                    let (_, _, status) = st.faults_after.remove(pos).unwrap();
                    err(status, "injected fault after the work was done")
                }
                None => answer,
            }
        }));
        FakeGitHub { url, state }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, GitHubState> {
        self.state.lock().unwrap()
    }
}

fn handle(st: &mut GitHubState, req: Recorded) -> Answer {
    st.requests.push(req.clone());
    let auth = req
        .headers
        .get("authorization")
        .cloned()
        .unwrap_or_default();
    if auth != format!("Bearer {}", st.token) && auth != format!("token {}", st.token) {
        st.violations.push(format!(
            "{} {}: bad Authorization `{auth}`",
            req.method, req.path
        ));
        return err(401, "Bad credentials");
    }
    let version = req
        .headers
        .get("x-github-api-version")
        .cloned()
        .unwrap_or_default();
    if version != "2022-11-28" {
        st.violations.push(format!(
            "{} {}: X-GitHub-Api-Version `{version}`",
            req.method, req.path
        ));
        return err(400, "missing X-GitHub-Api-Version");
    }
    if let Some(pos) = st
        .faults
        .iter()
        .position(|(m, p, _)| *m == req.method && req.path.ends_with(p.as_str()))
    {
        let (_, _, status) = st.faults.remove(pos).unwrap();
        return err(status, "injected fault");
    }
    let prefix = format!("/repos/{}", st.owner_repo);
    let Some(rest) = req.path.strip_prefix(&prefix) else {
        st.violations
            .push(format!("{} {}: not this repository", req.method, req.path));
        return err(404, "Not Found");
    };
    let rest = rest.to_string();
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let query: HashMap<String, String> = req
        .query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", []) => ok(
            200,
            json!({"full_name": st.owner_repo, "default_branch": st.default_branch}),
        ),
        ("GET", ["git", "ref", "heads", branch]) => match st.refs.get(*branch) {
            Some(sha) => ok(
                200,
                json!({"ref": format!("refs/heads/{branch}"), "object": {"sha": sha, "type": "commit"}}),
            ),
            None => err(404, "Not Found"),
        },
        ("GET", ["git", "commits", sha]) => match st.commits.get(*sha) {
            Some(c) => ok(
                200,
                json!({"sha": sha, "tree": {"sha": c.tree}, "message": c.message,
                       "parents": c.parents.iter().map(|p| json!({"sha": p})).collect::<Vec<_>>()}),
            ),
            None => err(404, "Not Found"),
        },
        ("GET", ["git", "trees", sha]) => match st.trees.get(*sha) {
            Some(t) => ok(
                200,
                json!({"sha": sha, "truncated": false, "tree": t.iter().map(|(p, s)| json!({
                    "path": p, "mode": "100644", "type": "blob", "sha": s})).collect::<Vec<_>>()}),
            ),
            None => err(404, "Not Found"),
        },
        ("POST", ["git", "blobs"]) => {
            if req.body["encoding"] != "base64" {
                st.violations.push("blob not base64".into());
                return err(422, "encoding");
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(req.body["content"].as_str().unwrap_or(""))
                .unwrap();
            let sha = blob_sha(&bytes);
            st.blobs.insert(sha.clone(), bytes);
            ok(201, json!({"sha": sha}))
        }
        ("POST", ["git", "trees"]) => {
            let base = req.body["base_tree"].as_str().unwrap_or("");
            let Some(mut tree) = st.trees.get(base).cloned() else {
                st.violations.push(format!("unknown base_tree {base}"));
                return err(422, "base_tree");
            };
            for e in req.body["tree"].as_array().cloned().unwrap_or_default() {
                let path = e["path"].as_str().unwrap_or("").to_string();
                if e["sha"].is_null() && e.get("sha").is_some() {
                    // `"sha": null` deletes the path; GitHub refuses to delete what is not there.
                    if e["mode"] != "100644" || tree.remove(&path).is_none() {
                        st.violations.push(format!("bad deletion {e}"));
                        return err(422, "tree entry");
                    }
                    continue;
                }
                let sha = e["sha"].as_str().unwrap_or("").to_string();
                if e["mode"] != "100644" || e["type"] != "blob" || !st.blobs.contains_key(&sha) {
                    st.violations.push(format!("bad tree entry {e}"));
                    return err(422, "tree entry");
                }
                tree.insert(path, sha);
            }
            let sha = st.put_tree(tree);
            ok(201, json!({"sha": sha}))
        }
        ("POST", ["git", "commits"]) => {
            let tree = req.body["tree"].as_str().unwrap_or("").to_string();
            let parents: Vec<String> = req.body["parents"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|p| p.as_str().unwrap_or("").to_string())
                .collect();
            if !st.trees.contains_key(&tree) || parents.iter().any(|p| !st.commits.contains_key(p))
            {
                st.violations.push(format!("bad commit {}", req.body));
                return err(422, "commit");
            }
            let message = req.body["message"].as_str().unwrap_or("").to_string();
            let sha = st.put_commit(tree, parents, message);
            ok(201, json!({"sha": sha}))
        }
        ("PATCH", ["git", "refs", "heads", branch]) => {
            if req.body["force"] != json!(false) {
                st.violations
                    .push(format!("ref update without force: false: {}", req.body));
            }
            if st.move_ref_before_update {
                st.move_ref_before_update = false;
                let files = std::mem::take(&mut st.concurrent_files);
                let files: Vec<(&str, &[u8])> = if files.is_empty() {
                    vec![("other.txt", b"someone else\n")]
                } else {
                    files
                        .iter()
                        .map(|(p, b)| (p.as_str(), b.as_slice()))
                        .collect()
                };
                st.push(branch, &files, "a concurrent push");
            }
            let new = req.body["sha"].as_str().unwrap_or("").to_string();
            let Some(current) = st.refs.get(*branch).cloned() else {
                return err(422, "Reference does not exist");
            };
            let fast_forward = st
                .commits
                .get(&new)
                .is_some_and(|c| c.parents.contains(&current));
            if !fast_forward {
                return err(422, "Update is not a fast forward");
            }
            st.refs.insert(branch.to_string(), new.clone());
            ok(
                200,
                json!({"ref": format!("refs/heads/{branch}"), "object": {"sha": new}}),
            )
        }
        ("GET", ["contents", path @ ..]) => {
            let branch = query
                .get("ref")
                .cloned()
                .unwrap_or(st.default_branch.clone());
            let path = path.join("/");
            let found = st.refs.get(&branch).and_then(|h| {
                let blob = st.trees[&st.commits[h].tree].get(&path)?;
                Some((blob.clone(), st.blobs[blob].clone()))
            });
            match found {
                // As GitHub: over 1 MiB the content is left out; the blob API has it.
                Some((sha, bytes)) if bytes.len() > 1024 * 1024 => ok(
                    200,
                    json!({"type": "file", "encoding": "none", "path": path, "sha": sha,
                           "content": "", "size": bytes.len()}),
                ),
                Some((sha, bytes)) => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
                    // GitHub wraps the base64 at 60 columns.
                    let wrapped: Vec<String> = b64
                        .as_bytes()
                        .chunks(60)
                        .map(|c| String::from_utf8_lossy(c).into_owned())
                        .collect();
                    ok(
                        200,
                        json!({"type": "file", "encoding": "base64", "path": path, "sha": sha,
                               "content": wrapped.join("\n")}),
                    )
                }
                None => err(404, "Not Found"),
            }
        }
        ("GET", ["git", "blobs", sha]) => match st.blobs.get(*sha) {
            Some(bytes) => ok(
                200,
                json!({"sha": sha, "encoding": "base64", "size": bytes.len(),
                       "content": base64::engine::general_purpose::STANDARD.encode(bytes)}),
            ),
            None => err(404, "Not Found"),
        },
        ("GET", ["issues"]) => {
            let label = query.get("labels").cloned().unwrap_or_default();
            let state = query.get("state").cloned().unwrap_or("open".into());
            let list: Vec<Value> = st
                .issues
                .iter()
                .filter(|i| i.state == state && (label.is_empty() || i.labels.contains(&label)))
                .map(|i| st.issue_json(i))
                .collect();
            ok(200, Value::Array(list))
        }
        ("POST", ["issues"]) => {
            let labels: Vec<String> = req.body["labels"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|l| l.as_str().unwrap_or("").to_string())
                .collect();
            let number = st.issues.len() as u64 + 1;
            st.labels.extend(labels.iter().cloned());
            st.issues.push(Issue {
                number,
                title: req.body["title"].as_str().unwrap_or("").into(),
                body: req.body["body"].as_str().unwrap_or("").into(),
                labels,
                state: "open".into(),
                comments: Vec::new(),
            });
            let issue = st.issues[number as usize - 1].clone();
            ok(201, st.issue_json(&issue))
        }
        ("GET", ["issues", n, "comments"]) => {
            let n: usize = n.parse().unwrap_or(0);
            let Some(issue) = st.issues.get(n.wrapping_sub(1)) else {
                return err(404, "Not Found");
            };
            let per_page: usize = query
                .get("per_page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(30);
            let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let list: Vec<Value> = issue
                .comments
                .iter()
                .enumerate()
                .skip(per_page * page.saturating_sub(1))
                .take(per_page)
                .map(|(i, body)| json!({"id": 5001 + i, "body": body}))
                .collect();
            ok(200, Value::Array(list))
        }
        ("POST", ["issues", n, "comments"]) => {
            let n: usize = n.parse().unwrap_or(0);
            let Some(issue) = st.issues.get_mut(n.wrapping_sub(1)) else {
                return err(404, "Not Found");
            };
            let body = req.body["body"].as_str().unwrap_or("").to_string();
            issue.comments.push(body.clone());
            ok(
                201,
                json!({"id": 5000 + issue.comments.len(), "body": body}),
            )
        }
        ("PATCH", ["issues", n]) => {
            let n: usize = n.parse().unwrap_or(0);
            let Some(issue) = st.issues.get_mut(n.wrapping_sub(1)) else {
                return err(404, "Not Found");
            };
            if let Some(state) = req.body["state"].as_str() {
                issue.state = state.to_string();
            }
            let issue = issue.clone();
            ok(200, st.issue_json(&issue))
        }
        _ => {
            st.violations
                .push(format!("unexpected {} {}", req.method, req.path));
            err(404, "Not Found")
        }
    }
}

/// The Slack webhook fake: answers from a script, then 200 `ok`.
#[derive(Clone)]
pub struct FakeSlack {
    /// The webhook URL (a secret: it must never appear in the tool's output).
    pub url: String,
    pub received: Arc<Mutex<Vec<Recorded>>>,
    pub script: Arc<Mutex<VecDeque<Answer>>>,
}

impl FakeSlack {
    pub const PATH: &'static str = "/services/T0SECRET/B0SECRET/xoxSECRETtoken";

    pub fn start(script: Vec<Answer>) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (r, s) = (received.clone(), script.clone());
        let base = serve(Arc::new(move |req: Recorded| {
            let answer = if req.method != "POST" || req.path != FakeSlack::PATH {
                (404, Vec::new(), "no_service".to_string())
            } else {
                s.lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or((200, Vec::new(), "ok".to_string()))
            };
            r.lock().unwrap().push(req);
            answer
        }));
        FakeSlack {
            url: format!("{base}{}", Self::PATH),
            received,
            script,
        }
    }

    pub fn received(&self) -> Vec<Recorded> {
        self.received.lock().unwrap().clone()
    }
}

/// A healthchecks.io-style ping endpoint: `POST <base>/start`, `POST <base>` (success),
/// `POST <base>/fail`, each with a text body of at most 100 kB. It keeps the state of the
/// check it stands for (`new`, `started`, `up`, `down`) as healthchecks.io does, records every
/// ping as received, answers from a script (then 200 `OK`), and records a violation for any
/// other method or path and for a body over the limit.
#[derive(Clone)]
pub struct FakeHeartbeat {
    /// The ping URL (a secret: it must never appear in the tool's output).
    pub url: String,
    pub state: Arc<Mutex<HeartbeatState>>,
}

pub struct HeartbeatState {
    /// `new`, then `started` after `/start`, `up` after a success ping, `down` after `/fail`.
    pub status: String,
    /// `(kind, body)` of each ping that was answered 2xx: kind is `start`, `success`, `fail`.
    pub pings: Vec<(String, String)>,
    pub requests: Vec<Recorded>,
    pub violations: Vec<String>,
    pub script: VecDeque<Answer>,
}

impl FakeHeartbeat {
    pub const PATH: &'static str = "/ping/5f2c1b7e-SECRET-uuid";
    pub const MAX_BODY: usize = 100_000;

    pub fn start(script: Vec<Answer>) -> Self {
        let state = Arc::new(Mutex::new(HeartbeatState {
            status: "new".into(),
            pings: Vec::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            script: VecDeque::from(script),
        }));
        let s = state.clone();
        let base = serve(Arc::new(move |req: Recorded| {
            let mut st = s.lock().unwrap();
            st.requests.push(req.clone());
            let kind = match req.path.strip_prefix(FakeHeartbeat::PATH) {
                Some("") | Some("/") => "success",
                Some("/start") => "start",
                Some("/fail") => "fail",
                _ => {
                    st.violations.push(format!("unknown path {}", req.path));
                    return (404, Vec::new(), "not found".into());
                }
            };
            if !matches!(req.method.as_str(), "POST" | "GET" | "HEAD") {
                st.violations.push(format!("{} {}", req.method, req.path));
                return (405, Vec::new(), "method not allowed".into());
            }
            if req.raw_body.len() > FakeHeartbeat::MAX_BODY {
                st.violations
                    .push(format!("a body of {} bytes", req.raw_body.len()));
            }
            if let Some(answer) = st.script.pop_front() {
                return answer;
            }
            st.status = match kind {
                "start" => "started",
                "success" => "up",
                _ => "down",
            }
            .into();
            st.pings.push((kind.into(), req.raw_body.clone()));
            (200, Vec::new(), "OK".into())
        }));
        FakeHeartbeat {
            url: format!("{base}{}", Self::PATH),
            state,
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, HeartbeatState> {
        self.state.lock().unwrap()
    }
}

/// A generic webhook receiver that knows the shared secret and checks the signature itself:
/// `X-DR-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. Requests whose signature does
/// not verify are answered 401 and recorded as violations; the others are answered from a
/// script, then 200.
#[derive(Clone)]
pub struct FakeWebhook {
    /// The URL (a secret: it must never appear in the tool's output).
    pub url: String,
    pub secret: String,
    /// The requests whose signature verified, as received.
    pub verified: Arc<Mutex<Vec<Recorded>>>,
    pub violations: Arc<Mutex<Vec<String>>>,
    pub script: Arc<Mutex<VecDeque<Answer>>>,
}

impl FakeWebhook {
    pub const PATH: &'static str = "/hooks/dr/SECRETpath";

    pub fn start(secret: &str, script: Vec<Answer>) -> Self {
        use hmac::{Hmac, KeyInit, Mac};
        let verified = Arc::new(Mutex::new(Vec::new()));
        let violations = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (v, x, s, key) = (
            verified.clone(),
            violations.clone(),
            script.clone(),
            secret.to_string(),
        );
        let base = serve(Arc::new(move |req: Recorded| {
            if req.method != "POST" || req.path != FakeWebhook::PATH {
                x.lock()
                    .unwrap()
                    .push(format!("{} {}", req.method, req.path));
                return (404, Vec::new(), "not found".into());
            }
            let given = req
                .headers
                .get("x-dr-signature-256")
                .cloned()
                .unwrap_or_default();
            let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(req.raw_body.as_bytes());
            let ok = given
                .strip_prefix("sha256=")
                .and_then(|h| hex::decode(h).ok())
                .is_some_and(|sig| mac.verify_slice(&sig).is_ok());
            if !ok {
                x.lock().unwrap().push(format!("bad signature `{given}`"));
                return (401, Vec::new(), "bad signature".into());
            }
            if req.headers.get("content-type").map(String::as_str) != Some("application/json") {
                x.lock().unwrap().push(format!(
                    "content-type {:?}",
                    req.headers.get("content-type")
                ));
            }
            let answer = s.lock().unwrap().pop_front();
            if answer.is_none() {
                v.lock().unwrap().push(req);
            }
            answer.unwrap_or((200, Vec::new(), "{}".into()))
        }));
        FakeWebhook {
            url: format!("{base}{}", Self::PATH),
            secret: secret.to_string(),
            verified,
            violations,
            script,
        }
    }

    pub fn verified(&self) -> Vec<Recorded> {
        self.verified.lock().unwrap().clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }
}
