import Foundation
import Hummingbird
import SessionDemoApp

do {
    let options = try DemoOptions.parse(Array(CommandLine.arguments.dropFirst()))
    let app = try await DemoApplication.make(options)
    try await app.runService()
} catch let error as DemoOptionsError {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(2)
}
