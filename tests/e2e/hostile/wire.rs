//! Raw gRPC calls driven by the published descriptors: what a client built
//! from `proto/` alone can send, including bytes no generated client would.

use bytes::{Buf, BufMut, Bytes};
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    Value,
};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// Every method of the services a client may call, from the contract.
pub fn methods() -> Vec<MethodDescriptor> {
    let pool = DescriptorPool::decode(trellis_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let methods: Vec<_> = pool
        .services()
        .filter(|s| s.package_name().starts_with("trellis."))
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .collect();
    assert!(methods.len() > 40, "the contract lost its services");
    methods
}

/// The request path of `method`, e.g. `/trellis.plans.v1.PlanService/AddGoal`.
pub fn path(method: &MethodDescriptor) -> String {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
}

/// Sends `body` as the request message of `path` with `token`; the status
/// is what the server answered (its message, code and details).
pub async fn call(channel: &Channel, path: &str, token: &str, body: Bytes) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("channel ready");
    let mut request = tonic::Request::new(body);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    let path = tonic::codegen::http::uri::PathAndQuery::try_from(path).expect("path");
    match grpc.unary::<Bytes, Bytes, _>(request, path, RawCodec).await {
        Ok(_) => tonic::Status::ok(""),
        Err(status) => status,
    }
}

/// Sends `body` as the one request message of the streaming rpc `path`;
/// how many messages came back, and the status the answers ended with.
pub async fn call_streaming(channel: &Channel, path: &str, body: Bytes) -> (usize, tonic::Status) {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("channel ready");
    let request = tonic::Request::new(futures::stream::once(async move { body }));
    let path = tonic::codegen::http::uri::PathAndQuery::try_from(path).expect("path");
    let mut answers = match grpc
        .streaming::<_, Bytes, Bytes, _>(request, path, RawCodec)
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => return (0, status),
    };
    let mut count = 0;
    loop {
        match answers.message().await {
            Ok(Some(_)) => count += 1,
            Ok(None) => return (count, tonic::Status::ok("")),
            Err(status) => return (count, status),
        }
    }
}

/// Everything a status shows a client, as text: message and details.
pub fn shown(status: &tonic::Status) -> String {
    format!(
        "{} {}",
        status.message(),
        String::from_utf8_lossy(status.details())
    )
}

/// A message of `descriptor` with every field set to `value_of`'s choice,
/// nested messages filled to a small depth.
pub fn filled(
    descriptor: &MessageDescriptor,
    depth: usize,
    value_of: &mut dyn FnMut(&FieldDescriptor) -> Option<Value>,
) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    for field in descriptor.fields() {
        // One member of each oneof, like a real client.
        if let Some(oneof) = field.containing_oneof()
            && !oneof.is_synthetic()
            && oneof.fields().next().is_some_and(|f| f != field)
        {
            continue;
        }
        let value = match field.kind() {
            Kind::Message(nested) if field.is_map() => {
                let _ = nested;
                continue;
            }
            Kind::Message(nested) => {
                if depth == 0 {
                    continue;
                }
                let inner = Value::Message(filled(&nested, depth - 1, value_of));
                if field.is_list() {
                    Value::List(vec![inner])
                } else {
                    inner
                }
            }
            _ => match value_of(&field) {
                Some(value) if field.is_list() => Value::List(vec![value]),
                Some(value) => value,
                None => continue,
            },
        };
        message.set_field(&field, value);
    }
    message
}

pub fn encode(message: &DynamicMessage) -> Bytes {
    Bytes::from(message.encode_to_vec())
}

/// Passes request bytes through untouched and ignores the answer's body:
/// the suite looks at statuses only.
#[derive(Debug, Clone, Copy)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
