//! What a scheme signs: a template over `{body}`, `{timestamp}`, `{id}`, `{url}`, `{method}`
//! and `{header:Name}`, split once at `{body}` into what is signed before the body and after
//! it. The body itself is never copied: the pipeline streams it between the two.

use http::request::Parts;

use crate::provider::{Prefix, SignatureError};

use super::{ConfigError, intern};

/// One piece of a template, besides the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Literal bytes.
    Literal(Box<[u8]>),
    /// The timestamp, as the sender sent it.
    Timestamp,
    /// The id header's value.
    Id,
    /// The URL the sender posted to.
    Url,
    /// The request method.
    Method,
    /// A named header's value (lowercase name).
    Header(&'static str),
}

/// A parsed template: the pieces before `{body}` and after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub(crate) before: Vec<Piece>,
    pub(crate) after: Vec<Piece>,
}

impl Template {
    /// Parses `text`: placeholders in braces, `{{` and `}}` for literal braces, `{body}`
    /// exactly once.
    pub(crate) fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut before = Vec::new();
        let mut after = Vec::new();
        let mut body_seen = false;
        let mut literal = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        let push = |pieces: &mut Vec<Piece>, literal: &mut Vec<u8>| {
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(literal).into()));
            }
        };
        while i < bytes.len() {
            let current = if body_seen { &mut after } else { &mut before };
            match bytes[i] {
                b'{' if bytes.get(i + 1) == Some(&b'{') => {
                    literal.push(b'{');
                    i += 2;
                }
                b'}' if bytes.get(i + 1) == Some(&b'}') => {
                    literal.push(b'}');
                    i += 2;
                }
                b'}' => return Err(ConfigError::Template("a `}` without its `{` (write `}}`)")),
                b'{' => {
                    let end = text[i..]
                        .find('}')
                        .ok_or(ConfigError::Template("a `{` without its `}` (write `{{`)"))?;
                    let name = &text[i + 1..i + end];
                    push(current, &mut literal);
                    let piece = match name {
                        "body" if body_seen => {
                            return Err(ConfigError::Template("`{body}` appears twice"));
                        }
                        "body" => {
                            body_seen = true;
                            None
                        }
                        "timestamp" => Some(Piece::Timestamp),
                        "id" => Some(Piece::Id),
                        "url" => Some(Piece::Url),
                        "method" => Some(Piece::Method),
                        _ => match name.strip_prefix("header:") {
                            Some(header) if http::HeaderName::try_from(header).is_ok() => {
                                Some(Piece::Header(intern(&header.to_ascii_lowercase())))
                            }
                            _ => return Err(ConfigError::Template("unknown placeholder")),
                        },
                    };
                    if let Some(piece) = piece {
                        current.push(piece);
                    }
                    i += end + 1;
                }
                byte => {
                    literal.push(byte);
                    i += 1;
                }
            }
        }
        let current = if body_seen { &mut after } else { &mut before };
        push(current, &mut literal);
        if !body_seen {
            return Err(ConfigError::Template(
                "the template must sign `{body}` (exactly once)",
            ));
        }
        Ok(Self { before, after })
    }

    /// Every piece, before and after the body.
    pub(crate) fn pieces(&self) -> impl Iterator<Item = &Piece> {
        self.before.iter().chain(&self.after)
    }

    /// Whether the template names `piece`.
    pub(crate) fn uses(&self, piece: &Piece) -> bool {
        self.pieces().any(|p| p == piece)
    }
}

/// The request's values a template may name.
pub(crate) struct Values<'r> {
    pub(crate) parts: &'r Parts,
    pub(crate) timestamp: Option<&'r [u8]>,
    pub(crate) id: Option<&'r [u8]>,
    pub(crate) id_header: &'static str,
    pub(crate) public_url: Option<&'r str>,
}

/// Writes `pieces` with the request's `values` into `out`.
pub(crate) fn render(
    pieces: &[Piece],
    values: &Values<'_>,
    out: &mut Prefix,
) -> Result<(), SignatureError> {
    for piece in pieces {
        match piece {
            Piece::Literal(bytes) => out.extend_from_slice(bytes),
            Piece::Timestamp => out.extend_from_slice(values.timestamp.unwrap_or_default()),
            Piece::Id => out.extend_from_slice(
                values
                    .id
                    .ok_or(SignatureError::MissingHeader(values.id_header))?,
            ),
            Piece::Method => out.extend_from_slice(values.parts.method.as_str().as_bytes()),
            Piece::Url => write_url(values, out)?,
            Piece::Header(name) => {
                let value = crate::provider::single_header(&values.parts.headers, name)?
                    .ok_or(SignatureError::MissingHeader(name))?;
                out.extend_from_slice(value.as_bytes());
            }
        }
    }
    Ok(())
}

/// The URL the sender posted to: the configured public URL of the route followed by the
/// request's query (in place of the configured URL's own, if it was configured with one: the
/// request carries that query, and whatever the sender added to it); else an absolute request
/// URI as is; else `https://` + `Host` + path and query (what a sender behind TLS posted to,
/// when no proxy rewrote the path).
fn write_url(values: &Values<'_>, out: &mut Prefix) -> Result<(), SignatureError> {
    let uri = &values.parts.uri;
    if let Some(base) = values.public_url {
        let base = base.split_once('?').map_or(base, |(base, _)| base);
        out.extend_from_slice(base.as_bytes());
        if let Some(query) = uri.query() {
            out.extend_from_slice(b"?");
            out.extend_from_slice(query.as_bytes());
        }
        return Ok(());
    }
    if uri.scheme().is_some() {
        out.extend_from_slice(uri.to_string().as_bytes());
        return Ok(());
    }
    let host = crate::provider::single_header(&values.parts.headers, "host")?
        .ok_or(SignatureError::MissingHeader("host"))?;
    out.extend_from_slice(b"https://");
    out.extend_from_slice(host.as_bytes());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(path.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_body() {
        let t = Template::parse("v0:{timestamp}:{body}").unwrap();
        assert_eq!(
            t.before,
            [
                Piece::Literal(b"v0:"[..].into()),
                Piece::Timestamp,
                Piece::Literal(b":"[..].into())
            ]
        );
        assert!(t.after.is_empty());
        let t = Template::parse("{url}{body}{{x}}{header:X-Foo}").unwrap();
        assert_eq!(t.before, [Piece::Url]);
        assert_eq!(
            t.after,
            [Piece::Literal(b"{x}"[..].into()), Piece::Header("x-foo")]
        );
        for bad in [
            "{body}{body}",
            "{nope}{body}",
            "{timestamp}",
            "{body",
            "}{body}",
            "",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
