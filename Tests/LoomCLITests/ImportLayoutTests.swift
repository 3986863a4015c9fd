// `loom import streetstyle` and `loom import deepfashion` on small directories written in
// the published formats, with real JPEGs.

import Foundation
import LoomData
import LoomImage
import LoomTestSupport
import Testing

@Suite struct ImportLayoutTests {
    @Test func streetStyleManifestWithBoxesAndEmptyLabels() throws {
        let ws = try Workspace("streetstyle", train: 8, test: 8)
        let root = ws.path("ss")
        // Photo 1: red left half, green right half, two annotated people (two boxes).
        // Photo 2: blue, one person, most attributes unlabelled.
        let url1 = "https://s3.amazonaws.com/kmatzen/abc123def.jpg", url2 = "https://s3.amazonaws.com/kmatzen/9f8e7d.jpg"
        try PhotoFiles.writeJPEG(StreetStyleLayout.imagePath(root: root, url: url1),
                                 pixels: PhotoFiles.halves(width: 120, height: 80, left: paints[0].rgb, right: paints[1].rgb), width: 120, height: 80)
        try PhotoFiles.writeJPEG(StreetStyleLayout.imagePath(root: root, url: url2),
                                 pixels: PhotoFiles.solid(width: 60, height: 90, paints[2].rgb), width: 60, height: 90)
        let header = "id,url,created_time,city_id,month_id,lat,lon,x1,y1,x2,y2,width,height,clothing_pattern,major_color,"
            + "wearing_necktie,collar_presence,wearing_scarf,sleeve_length,neckline_shape,clothing_category,wearing_jacket,"
            + "wearing_hat,wearing_glasses,multiple_layers"
        let rows = [
            "1,\(url1),2014-06-01 12:00:00+00:00,19,7,40.71,-74.0,0,0,60,80,120,80,Solid,Red,No,Yes,No,Long sleeve,Round,Shirt,No,No,Yes,One layer",
            "2,\(url1),2014-06-01 12:00:00+00:00,19,7,40.71,-74.0,60,0,120,80,120,80,Striped,Green,,,,Short sleeve,,T-shirt,Yes,,,Multiple layers",
            "3,\(url2),2015-01-02 08:30:00+00:00,3,14,39.9,116.4,5,5,55,85,60,90,,More than 1 color,,,,,,,,,,",
        ]
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try ([header] + rows).joined(separator: "\n").write(toFile: root + "/streetstyle27k.manifest", atomically: true, encoding: .utf8)
        let out = ws.path("ss.h5")
        let r = try ws.loom(["import", "streetstyle", "--root", root, "--size", "16", "--split", "1,0,0", "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        let ds = try Dataset(path: out)
        #expect(ds.attributes.count == 12)
        #expect(try ds.attribute("major_color").classNames.prefix(3) == ["Black", "White", "More than 1 color"])
        #expect(try ds.attribute("wearing_hat") == AttributeInfo(name: "wearing_hat", kind: .binary, classNames: ["No", "Yes"]))
        let train = try ds.split("train")
        #expect(train.count == 3)
        #expect(try train.labels("major_color") == [5, 7, 2])
        #expect(try train.labels("clothing_pattern") == [0, 2, -1])
        #expect(try train.labels("wearing_glasses") == [1, -1, -1])
        #expect(try train.labels("multiple_layers") == [0, 1, -1])
        #expect(try train.labels("clothing_category") == [0, 2, -1])
        let images = try train.readImages(indices: [0, 1, 2])
        #expect(close(centreColour(images, index: 0, size: 16), paints[0].rgb), "first box: the red half")
        #expect(close(centreColour(images, index: 1, size: 16), paints[1].rgb), "second box: the green half")
        #expect(close(centreColour(images, index: 2, size: 16), paints[2].rgb))
    }

    /// The benchmark's six list files for three images of two item folders.
    func writeDeepFashion(_ root: String) throws {
        func list(_ path: String, _ header: String, _ lines: [String]) throws {
            let url = URL(fileURLWithPath: root + "/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (["\(lines.count)", header] + lines).joined(separator: "\n").appending("\n").write(to: url, atomically: true, encoding: .utf8)
        }
        try list("Anno/list_category_cloth.txt", "category_name  category_type", [
            "Anorak                       1", "Blazer                       1", "Jeans                        2", "Dress                        3",
        ])
        try list("Anno/list_attr_cloth.txt", "attribute_name  attribute_type", [
            "a-line                       3", "abstract chevron             1", "cotton                       2",
            "crew neck                    4", "boho                         5", "floral                       1",
        ])
        let names = ["img/Sheer_Pleated-Front_Blouse/img_00000001.jpg", "img/Sheer_Pleated-Front_Blouse/img_00000002.jpg",
                     "img/Classic_Denim_Jeans/img_00000001.jpg"]
        try list("Anno/list_category_img.txt", "image_name  category_label",
                 ["\(names[0])                        2", "\(names[1])                        4", "\(names[2])                        3"])
        try list("Anno/list_attr_img.txt", "image_name  attribute_labels", [
            "\(names[0]) -1  1 -1 -1 -1  1", "\(names[1])  1 -1  0 -1  1 -1", "\(names[2]) -1 -1  1  0 -1 -1",
        ])
        try list("Anno/list_bbox.txt", "image_name  x_1  y_1  x_2  y_2",
                 ["\(names[0])  000 000 040 060", "\(names[1])  040 000 080 060", "\(names[2])  010 010 070 050"])
        try list("Eval/list_eval_partition.txt", "image_name  evaluation_status",
                 ["\(names[0])                        train", "\(names[1])                        val",
                  "\(names[2])                        test"])
        for (i, n) in names.enumerated() {
            let pixels = i == 1 ? PhotoFiles.halves(width: 80, height: 60, left: paints[0].rgb, right: paints[2].rgb)
                : PhotoFiles.solid(width: 80, height: 60, paints[i].rgb)
            try PhotoFiles.writeJPEG(root + "/Img/" + n, pixels: pixels, width: 80, height: 60)
        }
    }

    @Test func deepFashionCategoryAndAttributeBenchmark() throws {
        let ws = try Workspace("deepfashion", train: 8, test: 8)
        let root = ws.path("Category and Attribute Prediction Benchmark")
        try writeDeepFashion(root)
        let out = ws.path("df.h5")
        let r = try ws.loom(["import", "deepfashion", "--root", root, "--size", "12", "--fit", "crop", "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        let ds = try Dataset(path: out)
        #expect(try ds.attribute("category").classNames == ["Anorak", "Blazer", "Jeans", "Dress"])
        #expect(try ds.attribute("attributes") == AttributeInfo(name: "attributes", kind: .multilabel,
                classNames: ["a-line", "abstract chevron", "cotton", "crew neck", "boho", "floral"]))
        #expect(try ds.attribute("texture").classNames == ["abstract chevron", "floral"])
        #expect(try ds.attribute("part").classNames == ["crew neck"])
        #expect(ds.splitNames == ["test", "train", "validation"])
        let train = try ds.split("train"), validation = try ds.split("validation"), test = try ds.split("test")
        #expect(try train.labels("category") == [1] && (try validation.labels("category")) == [3])
        #expect(try test.labels("category_type") == [1])   // Jeans: lower-body
        let t = try #require(try validation.targets("attributes"))
        #expect(t.k == 6)
        #expect(t.values[0] == 1 && t.values[1] == 0 && t.values[2].isNaN && t.values[4] == 1)
        let texture = try #require(try train.targets("texture"))
        #expect(texture.values == [1, 1])
        // The validation image's box is its right (blue) half.
        #expect(close(centreColour(try validation.readImages(indices: [0]), index: 0, size: 12), paints[2].rgb))
        #expect(try ds.computeFingerprint() == ds.fingerprint)
    }

    @Test func deepFashionCountLineMismatchNamesTheFile() throws {
        let ws = try Workspace("deepfashion-bad", train: 8, test: 8)
        let root = ws.path("df")
        try writeDeepFashion(root)
        let path = root + "/Anno/list_bbox.txt"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: "3\nimage_name", with: "5\nimage_name").write(toFile: path, atomically: true, encoding: .utf8)
        let r = try ws.loom(["import", "deepfashion", "--root", root, "--size", "12", "--out", ws.path("df.h5")])
        #expect(r.status != 0)
        #expect((r.errorLine ?? "").contains("list_bbox.txt:1:"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.path("df.h5")))
    }
}
