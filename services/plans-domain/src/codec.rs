//! How domain events are stored: a type name, a schema version and a JSON
//! payload.
//!
//! Each stored event enum is declared once with [`stored_events!`]: the
//! variant, its stored type name, the schema version written today and the
//! upcasts that bring older stored versions up to it. The enum, its
//! `event_type`, `schema_version`, `encode` and `decode` are derived from
//! that one list, so a variant cannot exist without its name and codec.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// One step of a stored payload's history: turns version `from` into
/// version `from + 1`. Stored events are never rewritten; the step runs
/// each time an older event is read.
#[derive(Debug, Clone, Copy)]
pub struct Upcast {
    pub from: u32,
    pub apply: fn(&mut Map<String, Value>),
}

/// Decodes a payload stored at `stored` version into today's `T`,
/// applying every upcast from `stored` up to `current` on the way.
pub(crate) fn decode_payload<T: DeserializeOwned>(
    event_type: &str,
    stored: u32,
    current: u32,
    upcasts: &[Upcast],
    payload: &[u8],
) -> Result<T, EventDecodeError> {
    let malformed = |source| EventDecodeError::Malformed {
        event_type: event_type.to_owned(),
        source,
    };
    if stored == current {
        return serde_json::from_slice(payload).map_err(malformed);
    }
    let unsupported = || EventDecodeError::UnsupportedVersion {
        event_type: event_type.to_owned(),
        version: stored,
    };
    if stored == 0 || stored > current {
        return Err(unsupported());
    }
    let mut value: Value = serde_json::from_slice(payload).map_err(malformed)?;
    let Some(fields) = value.as_object_mut() else {
        // Every payload is a JSON object; let serde say what is wrong.
        return serde_json::from_value(value).map_err(malformed);
    };
    for version in stored..current {
        let step = upcasts
            .iter()
            .find(|u| u.from == version)
            .ok_or_else(unsupported)?;
        (step.apply)(fields);
    }
    serde_json::from_value(value).map_err(malformed)
}

/// Declares a stored event enum and derives its codec. Each line is
/// `Variant(Payload) = "TypeName" @ version` and, for a type whose schema
/// changed, `upcast STEPS` (a slice of one [`Upcast`] per older version).
macro_rules! stored_events {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident($payload:ty) = $type_name:literal @ $version:literal
                    $(upcast $upcasts:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant($payload), )*
        }

        impl $name {
            /// Every type name this enum stores, in declaration order.
            pub const EVENT_TYPES: &'static [&'static str] = &[$($type_name),*];

            /// The stored type name.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => $type_name, )*
                }
            }

            /// The schema version [`Self::encode`] writes for this event.
            pub fn schema_version(&self) -> u32 {
                match self {
                    $( Self::$variant(_) => $version, )*
                }
            }

            /// The schema version written today for `event_type`.
            pub fn current_version(event_type: &str) -> Option<u32> {
                match event_type {
                    $( $type_name => Some($version), )*
                    _ => None,
                }
            }

            /// The upcasts that bring older versions of `event_type` up to
            /// date (empty for a type never changed).
            pub fn upcasts(event_type: &str) -> &'static [$crate::codec::Upcast] {
                match event_type {
                    $( $type_name => stored_events!(@upcasts $($upcasts)?), )*
                    _ => &[],
                }
            }

            /// The stored payload: compact JSON of the event's fields.
            pub fn encode(&self) -> Vec<u8> {
                let encoded = match self {
                    $( Self::$variant(e) => serde_json::to_vec(e), )*
                };
                // Plain structs of strings, numbers and dates always
                // serialize; NaN and infinities are refused by validation
                // before an event exists.
                encoded.expect("stored events serialize to JSON")
            }

            /// Reads a stored event, upcasting an older schema version.
            pub fn decode(
                event_type: &str,
                schema_version: u32,
                payload: &[u8],
            ) -> Result<Self, $crate::codec::EventDecodeError> {
                match event_type {
                    $(
                        $type_name => $crate::codec::decode_payload(
                            $type_name,
                            schema_version,
                            $version,
                            stored_events!(@upcasts $($upcasts)?),
                            payload,
                        )
                        .map(Self::$variant),
                    )*
                    other => Err($crate::codec::EventDecodeError::UnknownType(other.to_owned())),
                }
            }
        }
    };
    (@upcasts) => { &[] };
    (@upcasts $upcasts:expr) => { $upcasts };
}

pub(crate) use stored_events;

#[derive(Debug, thiserror::Error)]
pub enum EventDecodeError {
    #[error("unknown plan event type {0}")]
    UnknownType(String),
    #[error("unsupported schema version {version} of {event_type}")]
    UnsupportedVersion { event_type: String, version: u32 },
    #[error("malformed {event_type} payload: {source}")]
    Malformed {
        event_type: String,
        source: serde_json::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Renamed {
        name: String,
        kind: String,
    }

    const STEPS: &[Upcast] = &[
        Upcast {
            from: 1,
            apply: |f| {
                if let Some(v) = f.remove("title") {
                    f.insert("name".into(), v);
                }
            },
        },
        Upcast {
            from: 2,
            apply: |f| {
                f.entry("kind").or_insert_with(|| "plain".into());
            },
        },
    ];

    #[test]
    fn an_old_payload_is_upcast_step_by_step() {
        let got: Renamed = decode_payload("T", 1, 3, STEPS, br#"{"title":"x"}"#).unwrap();
        assert_eq!(
            got,
            Renamed {
                name: "x".into(),
                kind: "plain".into()
            }
        );
        let got: Renamed = decode_payload("T", 2, 3, STEPS, br#"{"name":"y"}"#).unwrap();
        assert_eq!(got.kind, "plain");
    }

    #[test]
    fn versions_without_a_path_to_today_are_refused() {
        for stored in [0, 4] {
            let got = decode_payload::<Renamed>("T", stored, 3, STEPS, b"{}");
            assert!(matches!(
                got,
                Err(EventDecodeError::UnsupportedVersion { version, .. }) if version == stored
            ));
        }
        let got = decode_payload::<Renamed>("T", 1, 3, &STEPS[1..], b"{}");
        assert!(matches!(
            got,
            Err(EventDecodeError::UnsupportedVersion { version: 1, .. })
        ));
    }
}
