// The RESP types an app meets through this module's API (commands sent on a pool, replies and
// errors it returns). The parser and the channel handlers stay in SessionKitRESP.
@_exported import struct SessionKitRESP.RESPClientError
@_exported import struct SessionKitRESP.RESPCommand
@_exported import enum SessionKitRESP.RESPReply
