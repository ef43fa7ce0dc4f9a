//! The prost codec every Trellis service and client is generated with,
//! except for one answer: bytes that do not decode as the request's
//! message are INVALID_ARGUMENT — the caller sent something that is not
//! the message — where prost's codec says INTERNAL (a server fault) and
//! quotes the decoder's detail.

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, DecodeBuf};
use tonic_prost::{ProstCodec, ProstDecoder};

/// Used by the generated code (`codec_path` in build.rs).
#[derive(Debug, Clone)]
pub struct Codec<T, U>(ProstCodec<T, U>);

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Self(ProstCodec::default())
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = <ProstCodec<T, U> as tonic::codec::Codec>::Encoder;
    type Decoder = Decoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.0.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        Decoder(self.0.decoder())
    }
}

/// Decodes like prost, refusing undecodable bytes as the caller's error.
#[derive(Debug, Clone)]
pub struct Decoder<U>(ProstDecoder<U>);

/// What a caller is told when its bytes are not the message; the same for
/// every message, and without the decoder's detail.
pub const UNDECODABLE: &str = "the message is not a valid protobuf encoding of its type";

impl<U: Message + Default> tonic::codec::Decoder for Decoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0
            .decode(buf)
            .map_err(|_| Status::invalid_argument(UNDECODABLE))
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
