//! Policy statements, compared by meaning: whether a live statement denies at least everything
//! a wanted one denies (see [`covers`]). IAM's own rules, kept to what the audit needs:
//! `Action` and `Resource` may be a string or an array and use `*` / `?` wildcards (actions
//! case-insensitively), condition keys are case-insensitive, the values under one key are ORed
//! and the conditions of a statement are ANDed. What this does not reason about never counts as
//! covering.

use serde_json::Value;

/// A live statement covering `wanted`, by its name; or why none does (the reason the statement
/// with the same Sid falls short, when there is one).
pub(super) fn find_cover(live: &[Statement], wanted: &Statement) -> Result<String, String> {
    let mut same_sid_reason = None;
    for (i, s) in live.iter().enumerate() {
        match covers(s, wanted) {
            Ok(()) => {
                return Ok(s.sid.as_ref().map_or_else(
                    || format!("statement #{}", i + 1),
                    |sid| format!("statement {sid}"),
                ));
            }
            Err(why) if s.sid.is_some() && s.sid == wanted.sid => {
                same_sid_reason = Some(format!(
                    "statement {} {why}",
                    s.sid.as_deref().unwrap_or("")
                ));
            }
            Err(_) => {}
        }
    }
    Err(same_sid_reason.unwrap_or_else(|| format!("no statement covers `{}`", wanted.describe())))
}

/// One condition: operator, key (lowercase: keys are case-insensitive), values.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Condition {
    operator: String,
    key: String,
    values: Vec<String>,
}

/// The parts of a policy statement the audit reasons about.
#[derive(Clone, Debug, Default)]
pub(super) struct Statement {
    sid: Option<String>,
    effect: String,
    everyone: bool,
    /// `NotAction`, `NotResource` or `NotPrincipal`: not reasoned about.
    negated: bool,
    actions: Vec<String>,
    resources: Vec<String>,
    conditions: Vec<Condition>,
}

/// The statements of a policy document (`Statement` may be one object or an array).
pub(super) fn statements(doc: &Value) -> Vec<Statement> {
    match &doc["Statement"] {
        Value::Array(items) => items.iter().map(Statement::parse).collect(),
        Value::Object(_) => vec![Statement::parse(&doc["Statement"])],
        _ => Vec::new(),
    }
}

/// A string, a boolean, a number or an array of them, as strings.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

impl Statement {
    pub(super) fn parse(v: &Value) -> Statement {
        let everyone = match &v["Principal"] {
            Value::String(s) => s == "*",
            Value::Object(m) => m.get("AWS").is_some_and(|a| strings(a) == ["*"]),
            _ => false,
        };
        let mut conditions = Vec::new();
        if let Value::Object(ops) = &v["Condition"] {
            for (operator, keys) in ops {
                if let Value::Object(keys) = keys {
                    for (key, values) in keys {
                        conditions.push(Condition {
                            operator: operator.clone(),
                            key: key.to_ascii_lowercase(),
                            values: strings(values),
                        });
                    }
                } else {
                    // A malformed block: keep it as a condition nothing implies.
                    conditions.push(Condition {
                        operator: operator.clone(),
                        key: String::new(),
                        values: Vec::new(),
                    });
                }
            }
        }
        Statement {
            sid: v["Sid"].as_str().map(str::to_string),
            effect: v["Effect"].as_str().unwrap_or_default().to_string(),
            everyone,
            negated: ["NotAction", "NotResource", "NotPrincipal"]
                .iter()
                .any(|k| v.get(*k).is_some()),
            actions: strings(&v["Action"]),
            resources: strings(&v["Resource"]),
            conditions,
        }
    }

    /// `Deny s3:PutObject on arn:…/pwm/* when StringNotEquals s3:x-amz-server-side-encryption = aws:kms`.
    fn describe(&self) -> String {
        let when: Vec<String> = self
            .conditions
            .iter()
            .map(|c| format!("{} {} = {}", c.operator, c.key, c.values.join("|")))
            .collect();
        let mut text = format!(
            "{} {} on {}",
            self.effect,
            self.actions.join(", "),
            self.resources.join(" and ")
        );
        if !when.is_empty() {
            text.push_str(&format!(" when {}", when.join(" and ")));
        }
        text
    }
}

/// Whether `live` denies at least everything `wanted` denies; if not, why.
fn covers(live: &Statement, wanted: &Statement) -> Result<(), String> {
    if live.effect != wanted.effect {
        return Err(format!("has Effect {}, not {}", live.effect, wanted.effect));
    }
    if live.negated {
        return Err(
            "uses NotAction/NotResource/NotPrincipal, which this audit does not reason about"
                .into(),
        );
    }
    if wanted.everyone && !live.everyone {
        return Err("does not apply to every principal (Principal \"*\")".into());
    }
    for a in &wanted.actions {
        let a = a.to_ascii_lowercase();
        if !live
            .actions
            .iter()
            .any(|l| pattern_covers(&l.to_ascii_lowercase(), &a))
        {
            return Err(format!("does not cover the action {a}"));
        }
    }
    for r in &wanted.resources {
        if !live.resources.iter().any(|l| pattern_covers(l, r)) {
            return Err(format!("does not cover the resource {r}"));
        }
    }
    for c in &live.conditions {
        if !wanted.conditions.iter().any(|w| implies(w, c)) {
            return Err(format!(
                "has the condition {} {} = {}, which narrows the Deny compared to `{}`",
                c.operator,
                c.key,
                c.values.join("|"),
                wanted.describe()
            ));
        }
    }
    Ok(())
}

/// Whether the wanted condition being true makes the live one true.
fn implies(wanted: &Condition, live: &Condition) -> bool {
    if wanted.key != live.key || wanted.key.is_empty() {
        return false;
    }
    let base = |op: &str| op.strip_suffix("IfExists").unwrap_or(op).to_string();
    let (w_base, l_base) = (base(&wanted.operator), base(&live.operator));
    if w_base != l_base || w_base.contains("Like") || w_base.contains(':') {
        return false;
    }
    // On a missing key a negated operator is true with or without IfExists; a positive one is
    // true only with IfExists. So the live operator may add IfExists, never drop it, unless negated.
    let negated = w_base.contains("Not");
    let w_if = wanted.operator.ends_with("IfExists");
    let l_if = live.operator.ends_with("IfExists");
    if !negated && w_if && !l_if {
        return false;
    }
    let norm = |v: &String| {
        if w_base == "Bool" {
            v.to_ascii_lowercase()
        } else {
            v.clone()
        }
    };
    let w: Vec<String> = wanted.values.iter().map(norm).collect();
    let l: Vec<String> = live.values.iter().map(norm).collect();
    if negated {
        // "not any of L" holds whenever "not any of W" does when L is within W.
        !l.is_empty() && l.iter().all(|v| w.contains(v))
    } else {
        !w.is_empty() && w.iter().all(|v| l.contains(v))
    }
}

/// Whether the IAM pattern `live` matches everything the pattern `wanted` matches. `wanted` is
/// a literal or a literal followed by one `*`; anything else is not reasoned about.
fn pattern_covers(live: &str, wanted: &str) -> bool {
    match wanted.strip_suffix('*') {
        Some(head) if !head.contains(['*', '?']) => {
            live.ends_with('*') && wildcard_match(live, head)
        }
        Some(_) => false,
        None if wanted.contains('?') => false,
        None => wildcard_match(live, wanted),
    }
}

/// IAM wildcards: `*` any run of characters (across `/` too), `?` any one character.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_wildcards_cover_what_they_should() {
        assert!(pattern_covers("arn:aws:s3:::b/*", "arn:aws:s3:::b/pwm/*"));
        assert!(pattern_covers(
            "arn:aws:s3:::b/p?m/*",
            "arn:aws:s3:::b/pwm/x/*"
        ));
        assert!(!pattern_covers(
            "arn:aws:s3:::b/pwm/orders/*",
            "arn:aws:s3:::b/pwm/*"
        ));
        assert!(!pattern_covers(
            "arn:aws:s3:::b/pwm/",
            "arn:aws:s3:::b/pwm/*"
        ));
        assert!(pattern_covers("*", "s3:*"));
        assert!(!pattern_covers("s3:get*", "s3:*"));
        assert!(pattern_covers("s3:*object", "s3:putobject"));
        assert!(!pattern_covers("arn:aws:s3:::b", "arn:aws:s3:::b/*"));
        assert!(wildcard_match("a*b*c", "axxbyyc") && !wildcard_match("a*b", "ab/c"));
    }
}
