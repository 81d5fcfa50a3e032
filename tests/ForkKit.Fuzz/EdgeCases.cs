using System.Buffers.Binary;
using System.Text;
using ForkKit.Wire;

namespace ForkKit.Fuzzing;

/// <summary>
/// Hand-made hostile inputs, one per edge the decoders must hold: `--write-edge-cases DIR`
/// writes them as DIR/edge-NAME.bin, the corpus's edge cases (the fuzzer's own finds sit beside
/// them as found-*.bin).
/// </summary>
static class EdgeCases
{
    public static IEnumerable<(string Name, byte[] Bytes)> All()
    {
        // ---- frames ----
        yield return ("frame-header-cut-short", [0x05, 0x00]);
        yield return ("frame-payload-cut-short", [.. Int32(100), .. "{\"id\":1}"u8]);
        yield return ("frame-prefix-2gib-minus-one", [.. Int32(int.MaxValue), .. "{}"u8]);
        yield return ("frame-prefix-2gib-as-unsigned", [.. Int32(unchecked((int)0x80000000)), .. "{}"u8]);
        yield return ("frame-prefix-just-under-the-limit", [.. Int32(Frames.MaxFrameBytes), .. "{\"id\":1,\"ok\":true}"u8]);
        yield return ("frame-prefix-just-over-the-limit", [.. Int32(Frames.MaxFrameBytes + 1), .. "{}"u8]);
        yield return ("frame-prefix-minus-one", [.. Int32(-1), .. "{}"u8]);
        yield return ("frame-prefix-int-min", Int32(int.MinValue));
        yield return ("frame-empty-then-garbage", [.. Int32(0), .. Int32(-7)]);

        // ---- the start message and arguments ----
        var add = Reference("Add");
        yield return ("start-name-not-a-string", Json("{\"name\":false,\"target\":null,\"args\":[]}"));
        yield return ("start-name-invalid-utf8", [.. "{\"name\":\"a"u8, 0xC3, 0x28, .. "\",\"target\":null,\"args\":[]}"u8]);
        yield return ("start-name-lone-surrogate-escape", Json("{\"name\":\"\\udc00\",\"target\":null,\"args\":[]}"));
        yield return ("start-metadata-token-a-string", Json(Start(add).Replace("\"metadataToken\":", "\"metadataToken\":\"1\",\"x\":")));
        yield return ("start-metadata-token-out-of-range", Json(Start(add).Replace("\"metadataToken\":", "\"metadataToken\":99999999999,\"x\":")));
        yield return ("start-target-an-array", Json("{\"name\":\"p\",\"target\":[1],\"args\":[]}"));
        yield return ("start-argument-missing", Json(Start(add, "[1]")));
        yield return ("start-argument-extra", Json(Start(add, "[1,2,3]")));
        yield return ("start-argument-wrong-type", Json(Start(add, "[\"1\",{}]")));
        yield return ("start-argument-out-of-range", Json(Start(add, "[2147483648,1]")));
        yield return ("start-argument-string-invalid-utf8", [.. Encoding.UTF8.GetBytes(Start(Reference("String"), "[\"")), 0xFF, .. "\"]}"u8]);
        yield return ("start-args-nested-10000-deep", Json(Start(Reference("Anything"), $"[{Nested(10_000)}]")));
        yield return ("start-args-nested-300-deep", Json(Start(Reference("Anything"), $"[{Nested(300)}]")));
        yield return ("start-args-object-nested-255-deep", Json(Start(Reference("Anything"), $"[{NestedObjects(255)}]")));
        yield return ("start-type-names-a-file-info", Json(Start(Reference("Anything"), "[{\"$type\":\"System.IO.FileInfo, System.IO.FileSystem\",\"fileName\":\"/etc/passwd\"}]")));

        // ---- pool tasks ----
        yield return ("task-id-a-string", Json("{\"id\":\"7\",\"target\":null,\"items\":[]}"));
        yield return ("task-id-a-fraction", Json("{\"id\":1.5,\"items\":[]}"));
        yield return ("task-items-before-target", Json("{\"id\":1,\"items\":[[1]],\"target\":null}"));
        yield return ("task-item-cut-short", Json($"{{\"id\":1,\"target\":{Target(add)},\"items\":[[1,2],[3]]}}"));
        yield return ("task-item-too-long", Json($"{{\"id\":1,\"target\":{Target(add)},\"items\":[[1,2,3]]}}"));
        yield return ("task-items-not-arrays", Json($"{{\"id\":1,\"target\":{Target(add)},\"items\":[1,2]}}"));
        yield return ("binary-task-no-parameters-count-int-max", BinaryTask(Reference("Nothing"), int.MaxValue, []));
        yield return ("binary-task-count-negative", BinaryTask(Reference("Int"), -1, Int32(5)));
        yield return ("binary-task-count-beyond-frame", BinaryTask(Reference("Int"), 1000, Int32(5)));
        yield return ("binary-task-array-count-beyond-frame", BinaryTask(Reference("Ints"), 1, Int32(0x20000000)));
        yield return ("binary-task-string-length-minus-two", BinaryTask(Reference("String"), 1, Int32(-2)));
        yield return ("binary-task-target-string-cut", [(byte)'B', .. new byte[8], .. Int32(1000), .. "abc"u8]);

        // ---- results ----
        yield return ("result-id-a-string", Json("{\"id\":\"7\",\"ok\":true,\"values\":[1]}"));
        yield return ("result-id-1e400", Json("{\"id\":1e400,\"ok\":true,\"values\":[1]}"));
        yield return ("result-values-not-an-array", Json("{\"id\":1,\"ok\":true,\"values\":5}"));
        yield return ("result-values-an-object", Json("{\"id\":1,\"ok\":true,\"values\":{\"a\":1}}"));
        yield return ("result-value-out-of-int-range", Json("{\"id\":1,\"ok\":true,\"values\":[2147483648,-9223372036854775809,1e400]}"));
        yield return ("result-value-invalid-utf8", [.. "{\"id\":1,\"ok\":true,\"values\":[\""u8, 0xED, 0xA0, 0x80, .. "\"]}"u8]);
        yield return ("result-values-nested-10000-deep", Json($"{{\"id\":1,\"ok\":true,\"values\":[{Nested(10_000)}]}}"));
        yield return ("result-value-names-a-file-info", Json("{\"id\":1,\"ok\":true,\"values\":[{\"$type\":\"System.IO.FileInfo, System.IO.FileSystem\",\"fileName\":\"/etc/passwd\",\"X\":1,\"Y\":2}]}"));
        yield return ("result-lock-under-a-name-never-created", Json("{\"id\":1,\"ok\":true,\"values\":[{\"forkkit\":\"Lock\",\"name\":\"forkkit-1-0123456789ab\"}]}"));
        yield return ("result-semaphore-under-a-name-never-created", Json("{\"id\":1,\"ok\":true,\"values\":[{\"forkkit\":\"Semaphore\",\"name\":\"forkkit-1-0123456789ab\"}]}"));
        yield return ("result-lock-not-a-forkkit-name", Json("{\"id\":1,\"ok\":true,\"values\":[{\"forkkit\":\"Lock\",\"name\":\"/etc/passwd\"}]}"));
        yield return ("result-lock-kind-a-number", Json("{\"id\":1,\"ok\":true,\"values\":[{\"forkkit\":1,\"name\":[]}]}"));
        yield return ("result-error-not-an-object", Json("{\"id\":1,\"ok\":false,\"error\":5}"));
        yield return ("result-error-type-a-number", Json("{\"id\":1,\"ok\":false,\"error\":{\"type\":7,\"message\":\"m\"}}"));
        yield return ("result-error-type-empty", Error(""));
        yield return ("result-error-type-assembly-qualified", Error("System.IO.FileNotFoundException, System.Private.CoreLib"));
        yield return ("result-error-type-a-file-info", Error("System.IO.FileInfo"));
        yield return ("result-error-type-a-process", Error("System.Diagnostics.Process"));
        yield return ("result-error-type-generic", Error("System.Collections.Generic.List`1[[System.Exception]]"));
        yield return ("result-error-type-an-array", Error("System.Exception[]"));
        yield return ("binary-answer-for-a-json-type", [(byte)'B', .. new byte[8], 1, .. Int32(1), .. new byte[8]]);
        yield return ("binary-answer-count-negative", [(byte)'B', .. new byte[8], 1, .. Int32(-5)]);
        yield return ("binary-answer-cut-in-the-id", [(byte)'B', 1, 2, 3]);

        // ---- the fork server ----
        yield return ("fork-request-role-unknown", [.. Int32(7), .. Int32(2), .. "{}"u8]);
        yield return ("fork-request-length-zero", [.. Int32(0), .. Int32(0)]);
        yield return ("fork-request-length-2gib", [.. Int32(1), .. Int32(int.MaxValue), .. "{}"u8]);
        yield return ("fork-reply-error-length-minus-one", [.. Int32(0), .. Int32(2), .. Int32(-1)]);
        yield return ("fork-reply-error-length-2gib", [.. Int32(0), .. Int32(2), .. Int32(int.MaxValue), .. "no"u8]);
        yield return ("fork-status-garbage", "RZE"u8.ToArray());
        yield return ("fork-status-record-cut", [(byte)'R', (byte)'E', 1, 0]);

        // ---- the command line ----
        yield return ("command-line-without-the-verb", "--role\0pool\0--wire"u8.ToArray());
        yield return ("command-line-options-without-values", "worker\0--role\0--name\0--wire"u8.ToArray());
    }

    static byte[] Int32(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }

    static byte[] Json(string text) => Encoding.UTF8.GetBytes(text);

    static TargetReference Reference(string name) => WireSamples.Reference(name);

    static string Target(TargetReference target) => Encoding.UTF8.GetString(Json(w => target.Write(w)));

    static byte[] Json(Action<System.Text.Json.Utf8JsonWriter> write) => ForkKit.Wire.Json.Write(write);

    static string Start(TargetReference target, string args = "[1,2]") =>
        Encoding.UTF8.GetString(WorkerStart.Write("Process-1", target, Encoding.UTF8.GetBytes(args)));

    static string Nested(int depth) => new string('[', depth) + "1" + new string(']', depth);

    static string NestedObjects(int depth) => string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);

    static byte[] Error(string type) => PoolMessages.Error(1, new RemoteError(type, "it failed", "   at Somewhere()"));

    static byte[] BinaryTask(TargetReference target, int count, byte[] items)
    {
        var head = PoolMessages.BinaryTask(1, target, 0, _ => { });
        BinaryPrimitives.WriteInt32LittleEndian(head.AsSpan(head.Length - 4), count);
        return [.. head, .. items];
    }
}
