import ArgumentParser
import Foundation
import Yams

/// Where a server part's settings come from, lowest first: the built-in defaults, the configuration
/// file (`--config-file FILE` or `PACER_CONFIG`: YAML, one section per part, keys named as the
/// flags), `PACER_<PART>_<FLAG>` environment variables (`PACER_FRAMEWORK_HTTP_MAX_CONCURRENT_REQUESTS`),
/// then the command line. Every flag of a part can be set each way; the sources become one argument
/// list, the command line last, and the argument parser checks it as usual (a later value wins).
enum ConfigSources {
    enum Origin: Equatable, CustomStringConvertible {
        case file(String)
        case environment(String)
        case commandLine

        var description: String {
            switch self {
            case .file(let path): return "file \(path)"
            case .environment(let name): return "environment \(name)"
            case .commandLine: return "command line"
            }
        }
    }

    /// One flag set by a source: its values (none for a flag without a value).
    struct Setting: Equatable {
        var flag: String
        var values: [String]
        var origin: Origin
    }

    /// The parts that read configuration, by subcommand name.
    static let parts: [String: any ParsableCommand.Type] = [
        "up": Up.self, "master": MasterCommand.self, "agent": AgentCommand.self, "framework": FrameworkCommand.self,
        "lb": LBCommand.self
    ]

    /// A flag of a part, as its help lists it.
    struct Flag {
        var name: String
        var takesValue: Bool
        var defaultValue: String?
    }

    /// The flags of a part, read from its help (the one description ArgumentParser gives of them;
    /// a long flag's description continues on the lines below it).
    static func flags(of part: String) -> [Flag] {
        guard let command = parts[part] else { return [] }
        let help = command.helpMessage(includeHidden: true, columns: 100_000)
        let flagLine = /^\s+(?:-[a-zA-Z], )?--([a-z0-9][a-z0-9-]*)( <[^>]+>)?(.*)$/
        var found: [(name: String, takesValue: Bool, description: String)] = []
        for text in help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if let m = try? flagLine.wholeMatch(in: text) {
                found.append((String(m.output.1), m.output.2 != nil, String(m.output.3)))
            } else if !found.isEmpty, text.hasPrefix(" "), !text.trimmingCharacters(in: .whitespaces).isEmpty {
                found[found.count - 1].description += " " + text.trimmingCharacters(in: .whitespaces)
            }
        }
        let defaultValue = /(?:\(|; )default: ([^)]*)\)\s*$/
        return found.filter { $0.name != "help" }.map { f in
            Flag(
                name: f.name, takesValue: f.takesValue,
                defaultValue: (try? defaultValue.firstMatch(in: f.description)).map { String($0.output.1) })
        }
    }

    /// The command line without the program name → what the parser sees, and what each source set.
    static func resolve(_ argv: [String], environment: [String: String]) throws -> (arguments: [String], settings: [Setting]) {
        if argv.first == "config" { return (argv, []) }  // `pacer config print` resolves for itself
        var rest = argv
        var file = environment["PACER_CONFIG"]
        if let i = rest.firstIndex(where: { $0 == "--config-file" || $0.hasPrefix("--config-file=") }) {
            if rest[i] == "--config-file" {
                guard i + 1 < rest.count else { throw ValidationError("--config-file: name a YAML file") }
                file = rest[i + 1]
                rest.removeSubrange(i...(i + 1))
            } else {
                file = String(rest[i].dropFirst("--config-file=".count))
                rest.remove(at: i)
            }
        }
        guard let part = rest.first, parts[part] != nil else {
            if argv.contains(where: { $0.hasPrefix("--config-file") }) {
                throw ValidationError(
                    "--config-file: only the server parts (\(parts.keys.sorted().joined(separator: ", "))) read one")
            }
            return (argv, [])
        }
        let known = Dictionary(flags(of: part).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var settings: [Setting] = []
        if let file { settings += try fromFile(file, part: part, known: known) }
        settings += try fromEnvironment(environment, part: part, known: known)
        let given = Array(rest.dropFirst())
        let arguments = [part] + settings.flatMap { ["--\($0.flag)"] + $0.values } + given
        return (arguments, settings + fromCommandLine(given, known: known))
    }

    private static func unknown(_ key: String, part: String, in source: String, known: [String: Flag]) -> ValidationError {
        ValidationError(
            "\(source): '\(key)' is not a flag of `pacer \(part)`; its flags: \(known.keys.sorted().joined(separator: ", "))")
    }

    private static func fromFile(_ path: String, part: String, known: [String: Flag]) throws -> [Setting] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("configuration file \(path): cannot be read")
        }
        let document: Any?
        do { document = try Yams.load(yaml: String(decoding: data, as: UTF8.self)) } catch {
            throw ValidationError("configuration file \(path): not YAML: \(error)")
        }
        guard let sections = document as? [String: Any] else {
            throw ValidationError(
                "configuration file \(path): expected one section per part (\(parts.keys.sorted().joined(separator: ", ")))")
        }
        for name in sections.keys where parts[name] == nil {
            throw ValidationError(
                "configuration file \(path): '\(name)' is not a part; the parts: \(parts.keys.sorted().joined(separator: ", "))")
        }
        guard let section = sections[part] else { return [] }
        guard let values = section as? [String: Any] else {
            throw ValidationError("configuration file \(path): '\(part)' must map flags to values")
        }
        return try values.keys.sorted().compactMap { key in
            guard let flag = known[key] else { throw unknown(key, part: part, in: "configuration file \(path)", known: known) }
            let where_ = "configuration file \(path), \(part).\(key)"
            return try setting(flag, values[key]!, origin: .file(path), where: where_)
        }
    }

    private static func fromEnvironment(_ environment: [String: String], part: String, known: [String: Flag]) throws -> [Setting]
    {
        let prefix = "PACER_\(part.uppercased())_"
        return try environment.keys.filter { $0.hasPrefix(prefix) }.sorted().compactMap { name in
            let key = name.dropFirst(prefix.count).lowercased().replacingOccurrences(of: "_", with: "-")
            guard let flag = known[key] else { throw unknown(key, part: part, in: "environment \(name)", known: known) }
            return try setting(flag, environment[name]!, origin: .environment(name), where: "environment \(name)")
        }
    }

    /// A value from a file or the environment as arguments: a flag without a value is given for
    /// true and left out for false; lists become comma-separated.
    private static func setting(_ flag: Flag, _ value: Any, origin: Origin, where place: String) throws -> Setting? {
        let text: String
        switch value {
        case let list as [Any]: text = list.map { "\($0)" }.joined(separator: ",")
        case let b as Bool: text = b ? "true" : "false"
        default: text = "\(value)"
        }
        guard flag.takesValue else {
            switch text.lowercased() {
            case "true", "1", "yes": return Setting(flag: flag.name, values: [], origin: origin)
            case "false", "0", "no": return nil
            default: throw ValidationError("\(place): '\(flag.name)' is on or off: true or false, not '\(text)'")
            }
        }
        return Setting(flag: flag.name, values: [text], origin: origin)
    }

    /// What the command line itself set (for `pacer config print`).
    private static func fromCommandLine(_ given: [String], known: [String: Flag]) -> [Setting] {
        var out: [Setting] = []
        var i = 0
        while i < given.count {
            let arg = given[i]
            i += 1
            guard arg.hasPrefix("--") else { continue }
            let parts = arg.dropFirst(2).split(separator: "=", maxSplits: 1).map(String.init)
            guard let flag = known[parts[0]] else { continue }
            if parts.count == 2 {
                out.append(Setting(flag: flag.name, values: [parts[1]], origin: .commandLine))
            } else if flag.takesValue, i < given.count {
                out.append(Setting(flag: flag.name, values: [given[i]], origin: .commandLine))
                i += 1
            } else {
                out.append(Setting(flag: flag.name, values: [], origin: .commandLine))
            }
        }
        return out
    }
}

/// `pacer config print PART`: the part's effective settings, each with where it came from.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Show configuration.", subcommands: [Print.self])

    struct Print: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a part's effective configuration (YAML, a comment saying where each value came from).")
        @Argument(help: "The part: up, master, agent, framework or lb.") var part: String
        @Option(help: "Configuration file (else PACER_CONFIG).") var configFile: String?
        @Argument(parsing: .captureForPassthrough, help: "The part's command-line flags, as they would be given to it.")
        var flags: [String] = []

        func run() throws {
            guard ConfigSources.parts[part] != nil else {
                throw ValidationError("'\(part)' is not a part: \(ConfigSources.parts.keys.sorted().joined(separator: ", "))")
            }
            let argv = [part] + (configFile.map { ["--config-file", $0] } ?? []) + flags
            let (arguments, settings) = try ConfigSources.resolve(argv, environment: ProcessInfo.processInfo.environment)
            _ = try ConfigSources.parts[part]!.parseAsRoot(Array(arguments.dropFirst()))  // the same checks as a start
            print(Self.render(part: part, settings: settings))
        }

        static func render(part: String, settings: [ConfigSources.Setting]) -> String {
            var lines = ["\(part):"]
            for flag in ConfigSources.flags(of: part) {
                // The last source to set a flag wins, as on the command line.
                if let s = settings.last(where: { $0.flag == flag.name }) {
                    // Secrets are shown as set, never printed.
                    let secret = ["secret", "credentials", "token"].contains { flag.name.contains($0) }
                    let value = flag.takesValue ? (secret ? "<redacted>" : s.values.first ?? "") : "true"
                    lines.append("  \(flag.name): \(quoted(value))  # \(s.origin)")
                } else if let value = flag.defaultValue {
                    lines.append("  \(flag.name): \(quoted(value))  # default")
                } else {
                    lines.append("  \(flag.name): \(flag.takesValue ? "null" : "false")  # default")
                }
            }
            return lines.joined(separator: "\n")
        }

        private static func quoted(_ value: String) -> String {
            value.isEmpty || value.contains(where: { ":#{}[],&*!|>'\"%@`".contains($0) }) || value.hasPrefix(" ")
                ? "'\(value.replacingOccurrences(of: "'", with: "''"))'" : value
        }
    }
}
