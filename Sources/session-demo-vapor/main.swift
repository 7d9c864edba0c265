import Foundation
import SessionDemoCore
import SessionDemoVapor

do {
    let options = try DemoOptions.parse(Array(CommandLine.arguments.dropFirst()))
    try await VaporDemoApplication.run(options)
} catch let error as DemoOptionsError {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(2)
}
