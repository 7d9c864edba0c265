/// The RESP protocol types (replies, commands, errors, parser) are part of this module's API.
@_exported import SessionKitRESP
