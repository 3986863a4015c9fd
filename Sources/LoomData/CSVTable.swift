// A CSV file as RFC 4180 describes it: comma-separated fields, fields in double quotes may
// hold commas, line breaks and doubled quotes (""). A UTF-8 byte-order mark is skipped,
// CRLF and LF both end records, blank lines are ignored. Records are checked one by one:
// a record that is not UTF-8 or has the wrong number of fields is reported with its line
// (the line it starts on) and set aside, so an import can skip it or stop on it.

/// The records of a CSV file, with the line each starts on.
struct CSVTable {
    struct Record {
        var line: Int
        var fields: [String]
    }

    var header: [String]
    var records: [Record]
    /// Records that could not be used (not UTF-8, wrong field count, bad quoting).
    var rejected: [ManifestError]

    /// Splits `bytes` into records; the first non-blank record is the header.
    static func parse(_ bytes: [UInt8], file: String) throws(ManifestError) -> CSVTable {
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        var header: [String]? = nil
        var records: [Record] = []
        var rejected: [ManifestError] = []
        var line = 1
        var i = start
        let n = bytes.count
        while i < n {
            let recordLine = line
            var fields: [[UInt8]] = []
            var field: [UInt8] = []
            var quoted = false, inQuotes = false, error: String? = nil
            var blank = true
            // One record: until an unquoted line break or the end of the file.
            while i < n {
                let b = bytes[i]
                if inQuotes {
                    if b == 0x22 {
                        if i + 1 < n && bytes[i + 1] == 0x22 { field.append(0x22); i += 2; continue }
                        inQuotes = false; i += 1; continue
                    }
                    if b == 0x0A { line += 1 }
                    field.append(b); i += 1; continue
                }
                if b == 0x0D && i + 1 < n && bytes[i + 1] == 0x0A { i += 1; continue }
                if b == 0x0A { i += 1; line += 1; break }
                blank = false
                if b == 0x2C { fields.append(field); field = []; quoted = false; i += 1; continue }
                if b == 0x22 && field.isEmpty && !quoted { inQuotes = true; quoted = true; i += 1; continue }
                if b == 0x22 && error == nil { error = "a quote inside an unquoted field (quote the whole field and double the quote)" }
                field.append(b); i += 1
            }
            if blank && fields.isEmpty && field.isEmpty { continue }
            fields.append(field)
            if inQuotes { error = "a quoted field is not closed before the end of the file" }
            var strings: [String] = []
            var utf8 = true
            for f in fields {
                guard let s = String(validating: f, as: UTF8.self) else { utf8 = false; break }
                strings.append(s)
            }
            if header == nil {
                guard utf8 else { throw .notUTF8(file: file, line: recordLine) }
                if let error { throw .badCSV(file: file, line: recordLine, reason: error) }
                header = strings.map { $0.trimmingCharacters(in: .whitespaces) }
                continue
            }
            if !utf8 { rejected.append(.notUTF8(file: file, line: recordLine)); continue }
            if let error { rejected.append(.badCSV(file: file, line: recordLine, reason: error)); continue }
            if strings.count != header!.count {
                rejected.append(.columnCount(file: file, line: recordLine, found: strings.count, expected: header!.count))
                continue
            }
            records.append(Record(line: recordLine, fields: strings))
        }
        guard let header else { throw .noRows(file: file, reason: "the manifest is empty (no header line)") }
        return CSVTable(header: header, records: records, rejected: rejected)
    }
}

import Foundation
