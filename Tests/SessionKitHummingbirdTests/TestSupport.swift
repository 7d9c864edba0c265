import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import HTTPTestSupport
import SessionKitTesting

extension TestClientProtocol {
    /// Sends a request with the jar's cookie and keeps any session cookie the response sets.
    func send(
        _ uri: String,
        _ method: HTTPRequest.Method = .get,
        jar: inout CookieJar,
        headers: HTTPFields = [:],
        body: String? = nil
    ) async throws -> TestResponse {
        let response = try await execute(
            uri: uri,
            method: method,
            headers: jar.headers(headers),
            body: body.map { ByteBuffer(string: $0) }
        )
        jar.update(from: response)
        return response
    }
}
