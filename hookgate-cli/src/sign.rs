//! Signing as the senders sign: the library's own signers (`hookgate::testing::Sign`,
//! `Standard::sign`), plus the sender's other headers, and the two-secret form of a rotation.

use hookgate::{
    ayrshare::{self, Ayrshare},
    provider::Provider,
    standard::{self, Standard},
    testing::Sign,
    zernio::{self, Zernio},
};
use http::HeaderMap;

use crate::{catalogue::Payload, error::Error, provider::Kind, secret::Secrets};

/// Per-attempt facts that go into the headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt {
    /// Unix seconds of this attempt (Standard `webhook-timestamp`, Ayrshare
    /// `X-Authorization-Timestamp`).
    pub(crate) timestamp: i64,
    /// 1-based attempt number (Ayrshare `X-Ayrshare-Delivery-Attempt`).
    pub(crate) number: u32,
}

/// The signing key(s) of one provider, checked once.
#[derive(Debug)]
pub(crate) struct Signer {
    /// One provider per secret used: the current one, and the previous one with `--rotate`.
    keys: Vec<Key>,
}

#[derive(Debug)]
enum Key {
    Zernio(Zernio),
    Ayrshare(Ayrshare),
    Standard(Standard),
}

impl Signer {
    /// A signer with the current secret, and with `rotate` the previous one too (as a sender
    /// signs during a rotation's grace window).
    pub(crate) fn new(kind: Kind, secrets: &Secrets, rotate: bool) -> Result<Self, Error> {
        let mut chosen = vec![secrets.current()];
        if rotate {
            if kind == Kind::Zernio {
                return Err(Error::usage(
                    "Zernio has no dual signing: during a rotation each delivery carries one \
                     signature, by the secret of the moment it was queued. To reproduce a retry \
                     queued before a rotation, sign with the previous secret alone (--secret OLD)",
                ));
            }
            chosen.push(secrets.previous().ok_or_else(|| {
                Error::usage(
                    "--rotate needs two secrets, current first: NEW,OLD in the variable, \
                     --secret-file or --secret",
                )
            })?);
        }
        let keys = chosen
            .into_iter()
            .map(|secret| {
                let key = match kind {
                    Kind::Zernio => Zernio::new([secret]).map(Key::Zernio),
                    Kind::Ayrshare => Ayrshare::new([secret]).map(Key::Ayrshare),
                    Kind::Standard => Standard::new([secret]).map(Key::Standard),
                };
                key.map_err(|e| Error::usage(format_args!("{}: {e}", kind.secret_var())))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// Every header the sender sends with `payload`, in the sender's order.
    pub(crate) fn headers(&self, payload: &Payload, attempt: Attempt) -> Vec<(String, String)> {
        let body = payload.body.as_slice();
        let mut out = vec![("content-type".to_owned(), "application/json".to_owned())];
        let mut push = |name: &str, value: String| out.push((name.to_owned(), value));
        match &self.keys[..] {
            [Key::Zernio(zernio), ..] => {
                push("user-agent", "Zernio-Webhooks/1.0".into());
                if !payload.event.is_empty() {
                    push(zernio::HEADER_EVENT, payload.event.clone());
                    push("x-late-event", payload.event.clone());
                }
                if let Some(id) = &payload.id {
                    push(zernio::HEADER_EVENT_ID, id.clone());
                    push("x-late-event-id", id.clone());
                }
                let mut signed = HeaderMap::new();
                zernio.sign(body, &mut signed);
                for name in [zernio::HEADER_SIGNATURE, zernio::HEADER_LEGACY_SIGNATURE] {
                    push(name, text(&signed, name));
                }
            }
            [Key::Ayrshare(current), rest @ ..] => {
                let mut signed = HeaderMap::new();
                current.sign(body, &mut signed);
                push(ayrshare::HEADER_TIMESTAMP, attempt.timestamp.to_string());
                push(
                    ayrshare::HEADER_SIGNATURE,
                    text(&signed, ayrshare::HEADER_SIGNATURE),
                );
                // One `v1=` entry per valid secret, the current one first.
                let mut v2 = text(&signed, ayrshare::HEADER_SIGNATURE_V2);
                for key in rest {
                    if let Key::Ayrshare(previous) = key {
                        let keyring = previous.secrets().keyring().expect("a static keyring");
                        let tag = keyring.sign(b"", body).to_hex();
                        v2.push_str(&format!(",v1={tag}"));
                    }
                }
                push(ayrshare::HEADER_SIGNATURE_V2, v2);
                push(
                    ayrshare::HEADER_DELIVERY_ID,
                    format!("dlv_{}", uuid::Uuid::new_v4().simple()),
                );
                push(
                    ayrshare::HEADER_DELIVERY_ATTEMPT,
                    attempt.number.to_string(),
                );
            }
            [Key::Standard(_), ..] => {
                let id = payload.id.clone().unwrap_or_default();
                let signatures: Vec<String> = self
                    .keys
                    .iter()
                    .filter_map(|key| match key {
                        Key::Standard(standard) => {
                            Some(standard.sign(&id, attempt.timestamp, body))
                        }
                        _ => None,
                    })
                    .collect();
                push(standard::HEADER_ID, id);
                push(standard::HEADER_TIMESTAMP, attempt.timestamp.to_string());
                push(standard::HEADER_SIGNATURE, signatures.join(" "));
            }
            [] => unreachable!("a signer has at least one key"),
        }
        out
    }
}

fn text(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(body: &str) -> Payload {
        Payload {
            body: body.as_bytes().to_vec(),
            event: String::new(),
            id: None,
        }
    }

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
    }

    const AT: Attempt = Attempt {
        timestamp: 1789228807,
        number: 1,
    };

    /// The worked examples of the providers' wire specifications.
    #[test]
    fn known_answers() {
        let body = r#"{"id":"3f1c2a9e-4b7d-4e21-9c0a-5d6e7f8a9b10","event":"webhook.test","message":"This is a test webhook from Zernio","timestamp":"2026-09-01T12:00:00.000Z"}"#;
        let signer = Signer::new(
            Kind::Zernio,
            &Secrets::parse("zr_demo_secret_123", "test").unwrap(),
            false,
        )
        .unwrap();
        let headers = signer.headers(&payload(body), AT);
        let tag = "0415d913f2d4bbcabd19f94cccf2152fb6c7beceda0966149ac24da2e63ff682";
        assert_eq!(get(&headers, "x-zernio-signature"), tag);
        assert_eq!(get(&headers, "x-late-signature"), tag);

        let body = r#"{"action":"scheduled","created":"2026-09-12T16:00:06Z","code":200,"refId":"9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b1d","status":"success","id":"Kd8sQm2vLx7RtY4wPz1N","errors":[],"postIds":[{"postUrl":"https://x.com/brightpathcoffee/status/1834022000111222333","platform":"twitter","status":"success","id":"1834022000111222333"}],"hookId":"hk_3Jq9XvT2mR8pLw5N","url":"https://hooks.brightpath-agency.com/ayrshare"}"#;
        let secrets = Secrets::parse("ayr_new_secret_2026,ayr_old_secret_2025", "test").unwrap();
        let signer = Signer::new(Kind::Ayrshare, &secrets, true).unwrap();
        let headers = signer.headers(&payload(body), AT);
        let new = "219486de1f6c9208073907a7384ac29628a7bc9ee8b4bde6eb2df210426912e2";
        let old = "de26dce5de9e766643cd1f33807f493f5d5703f3ffef1bd9eb6fb8455599660f";
        assert_eq!(get(&headers, "x-authorization-content-sha256"), new);
        assert_eq!(
            get(&headers, "x-authorization-content-sha256-v2"),
            format!("v1={new},v1={old}")
        );
        assert_eq!(get(&headers, "x-authorization-timestamp"), "1789228807");
        let signer = Signer::new(Kind::Ayrshare, &secrets, false).unwrap();
        let headers = signer.headers(&payload(body), AT);
        assert_eq!(
            get(&headers, "x-authorization-content-sha256-v2"),
            format!("v1={new}")
        );
    }

    #[test]
    fn standard_rotation_sends_two_entries() {
        let secrets = Secrets::parse(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,whsec_c2Vjb25kLXNlY3JldA==",
            "test",
        )
        .unwrap();
        let mut body = payload(r#"{"test": 2432232314}"#);
        body.id = Some("msg_p5jXN8AQM9LWM0D4loKWxJek".into());
        let at = Attempt {
            timestamp: 1614265330,
            number: 1,
        };
        let one = Signer::new(Kind::Standard, &secrets, false).unwrap();
        let headers = one.headers(&body, at);
        assert_eq!(
            get(&headers, "webhook-signature"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let two = Signer::new(Kind::Standard, &secrets, true).unwrap();
        let headers = two.headers(&body, at);
        let signature = get(&headers, "webhook-signature");
        let entries: Vec<_> = signature.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0],
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(entries[1].starts_with("v1,") && entries[1] != entries[0]);
    }

    #[test]
    fn rotation_refusals() {
        let one = Secrets::parse("only", "test").unwrap();
        let err = Signer::new(Kind::Ayrshare, &one, true).unwrap_err();
        assert!(err.to_string().contains("two secrets"), "{err}");
        let two = Secrets::parse("a,b", "test").unwrap();
        let err = Signer::new(Kind::Zernio, &two, true).unwrap_err();
        assert!(err.to_string().contains("no dual signing"), "{err}");
        // A bad Standard secret is refused without echoing it.
        let bad = Secrets::parse("whsec_!!!not-base64", "test").unwrap();
        let err = Signer::new(Kind::Standard, &bad, false).unwrap_err();
        assert!(!err.to_string().contains("not-base64"), "{err}");
    }
}
