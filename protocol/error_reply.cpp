#include "protocol/error_reply.h"

namespace protocol {

ErrorReply error_reply(ParseError err) noexcept {
  switch (err) {
    case ParseError::TargetTooLong:
      return {414, "Error: request target too long"};
    case ParseError::HeadersTooLarge:
      return {431, "Error: request header fields too large"};
    case ParseError::BodyTooLarge:
      return {413, "Error: request body too large"};
    case ParseError::UnknownMethod:
      return {501, "Error: method not implemented"};
    case ParseError::UnsupportedEncoding:
      return {501, "Error: transfer coding not implemented"};
    case ParseError::UnsupportedVersion:
      return {505, "Error: HTTP version not supported"};
    case ParseError::None:  // not an error; callers must not ask, answer 400 defensively
    case ParseError::Malformed:
      break;
  }
  return {400, "Error: bad request"};
}

}  // namespace protocol
