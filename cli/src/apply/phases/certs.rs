//! `kbundle certs --installed`: on each node, the certificates the bundle placed there, read
//! back and compared with the bundle's, with their expiry. Only certificates leave the node: a
//! `.crt` file, and of a kubeconfig only its `client-certificate-data` line (never a key).

use kbundle_core::bundle::certs::{HeldCertificate, certificate_in};
use kbundle_core::bundle::verify::certificate_facts;

use super::root;
use crate::apply::{Context, NodeTarget, Outcome, Phase};
use crate::ssh::quote;

/// Reads the installed certificates.
pub(crate) struct InstalledCertificates {
    /// Now (unix seconds), for the days left.
    pub(crate) now: i64,
}

/// Certificates that expire within this many days are warned about.
pub(crate) const WARN_DAYS: i64 = 30;

/// The certificates the bundle places on `node`, by path, CAs included.
fn placed_on(context: &Context, node: &str) -> Vec<(String, String)> {
    context
        .bundle
        .node_files(node)
        .into_iter()
        .filter_map(|file| {
            certificate_in(&file.path, &file.contents).map(|pem| (file.path.clone(), pem))
        })
        .collect()
}

/// One command printing `== PATH` then the certificate (PEM), or the kubeconfig's
/// `client-certificate-data` value, or `MISSING`.
fn read_script(paths: &[&str]) -> String {
    let mut script = String::new();
    for path in paths {
        let quoted = quote(path);
        let read = if path.ends_with(".crt") {
            format!("cat {quoted}")
        } else {
            format!(
                "grep -q client-certificate-data {quoted} && sed -n 's/^ *client-certificate-data: *//p' {quoted}"
            )
        };
        script.push_str(&format!(
            "echo {}; {{ {read}; }} 2>/dev/null || echo MISSING\n",
            quote(&format!("== {path}"))
        ));
    }
    script
}

/// `(path, text)` of every section of [`read_script`]'s output.
fn sections(output: &str) -> Vec<(String, String)> {
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in output.lines() {
        if let Some(path) = line.strip_prefix("== ") {
            sections.push((path.to_owned(), String::new()));
        } else if let Some((_, text)) = sections.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    sections
}

/// One line of the report: the expiry and whether it is the bundle's certificate.
pub(crate) fn describe(now: i64, not_after: i64) -> String {
    let days = (not_after - now).div_euclid(86_400);
    let date = crate::commands::inspect::date(not_after);
    if not_after <= now {
        format!("EXPIRED {date}")
    } else if days < WARN_DAYS {
        format!("expires {date} ({days} d, renew now)")
    } else {
        format!("expires {date} ({days} d)")
    }
}

impl Phase for InstalledCertificates {
    fn name(&self) -> &'static str {
        "certs"
    }

    fn title(&self) -> &'static str {
        "Read the installed certificates and compare them with the bundle's"
    }

    fn run_on(&self, context: &Context, node: &NodeTarget) -> Outcome {
        let placed = placed_on(context, &node.name);
        let paths: Vec<&str> = placed.iter().map(|(path, _)| path.as_str()).collect();
        let output = root(context, node, &read_script(&paths))?;
        let mut lines = Vec::new();
        let mut soon = 0;
        for (path, text) in sections(&output.stdout) {
            let bundle_pem = placed
                .iter()
                .find(|(placed, _)| *placed == path)
                .map(|(_, pem)| pem.as_str())
                .unwrap_or_default();
            let text = text.trim();
            if text == "MISSING" || text.is_empty() {
                lines.push(format!("{path}: missing"));
                continue;
            }
            let pem = if path.ends_with(".crt") {
                Some(text.to_owned())
            } else {
                kbundle_core::bundle::verify::decode_data(text.trim_matches('"'))
            };
            let Some(facts) = pem.as_deref().and_then(|pem| certificate_facts(pem).ok()) else {
                lines.push(format!("{path}: not a certificate"));
                continue;
            };
            let same = pem.as_deref().map(str::trim) == Some(bundle_pem.trim());
            if facts.not_after - self.now < WARN_DAYS * 86_400 {
                soon += 1;
            }
            lines.push(format!(
                "{path}: {}, {}",
                describe(self.now, facts.not_after),
                if same {
                    "as in the bundle"
                } else {
                    "NOT the bundle's"
                }
            ));
        }
        let differ = lines
            .iter()
            .filter(|line| !line.ends_with("as in the bundle"))
            .count();
        let summary = format!(
            "{} certificates, {differ} not as in the bundle, {soon} expiring within {WARN_DAYS} days",
            lines.len()
        );
        Ok(format!("{summary}\n{}", lines.join("\n")))
    }
}

/// What `kbundle certs` prints for the bundle's own certificates, soonest first.
pub(crate) fn table(held: &[HeldCertificate], now: i64) -> String {
    let mut out = format!(
        "{:<11} {:<8} {:<9} {:<46} {}\n",
        "EXPIRES", "LEFT", "NODE", "CERTIFICATE", "SUBJECT"
    );
    for certificate in held {
        let days = (certificate.not_after - now).div_euclid(86_400);
        let left = if certificate.not_after <= now {
            "EXPIRED".to_owned()
        } else if days < WARN_DAYS {
            format!("{days} d !")
        } else {
            format!("{days} d")
        };
        let path = if certificate.is_ca {
            format!("{} (CA)", certificate.path)
        } else {
            certificate.path.clone()
        };
        out.push_str(&format!(
            "{:<11} {:<8} {:<9} {:<46} {}\n",
            crate::commands::inspect::date(certificate.not_after),
            left,
            certificate.node.as_deref().unwrap_or("-"),
            path,
            certificate.subject
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_certificates_are_read_and_each_section_is_found() {
        let script = read_script(&[
            "/etc/kubernetes/pki/apiserver.crt",
            "/etc/kubernetes/kubelet.conf",
        ]);
        assert!(script.contains("cat '/etc/kubernetes/pki/apiserver.crt'"));
        assert!(script.contains(
            "sed -n 's/^ *client-certificate-data: *//p' '/etc/kubernetes/kubelet.conf'"
        ));
        assert!(!script.contains(".key"));
        let parsed = sections("== /a.crt\n-----BEGIN-----\nx\n== /b.conf\nMISSING\n");
        assert_eq!(
            parsed[0],
            ("/a.crt".to_owned(), "-----BEGIN-----\nx\n".to_owned())
        );
        assert_eq!(parsed[1], ("/b.conf".to_owned(), "MISSING\n".to_owned()));
    }

    #[test]
    fn expiry_is_said_in_days_with_a_warning_under_thirty() {
        let now = 1_790_000_000;
        assert!(describe(now, now + 400 * 86_400).ends_with("(400 d)"));
        assert!(describe(now, now + 10 * 86_400).contains("(10 d, renew now)"));
        assert!(describe(now, now - 1).starts_with("EXPIRED"));
    }
}
