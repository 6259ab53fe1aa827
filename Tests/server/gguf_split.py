"""Cuts a GGUF file into two parts the way llama.cpp's splitter lays them out (NAME-00001-of-00002.gguf:
all metadata plus split.no/split.count/split.tensors.count and the first half of the tensors; the second
part: the split keys and the other tensors), for the split-model tests."""
import struct, sys

SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def skip_value(b, i, t):
    if t in SIZES:
        return i + SIZES[t]
    if t == 8:
        (n,) = struct.unpack_from("<Q", b, i)
        return i + 8 + n
    if t == 9:
        et, n = struct.unpack_from("<IQ", b, i)
        i += 12
        for _ in range(n):
            i = skip_value(b, i, et)
        return i
    raise ValueError(f"unknown type {t}")


def string(s):
    return struct.pack("<Q", len(s)) + s


def split(path, out_prefix):
    b = open(path, "rb").read()
    magic, version, n_tensors, n_kv = struct.unpack_from("<IIQQ", b, 0)
    i = 24
    kv_start = i
    alignment = 32
    for _ in range(n_kv):
        (n,) = struct.unpack_from("<Q", b, i)
        key = b[i + 8:i + 8 + n]
        i += 8 + n
        (t,) = struct.unpack_from("<I", b, i)
        i += 4
        if key == b"general.alignment":
            (alignment,) = struct.unpack_from("<I", b, i)
        i = skip_value(b, i, t)
    kv_bytes = b[kv_start:i]
    tensors = []
    for _ in range(n_tensors):
        (n,) = struct.unpack_from("<Q", b, i)
        name = b[i + 8:i + 8 + n]
        i += 8 + n
        (nd,) = struct.unpack_from("<I", b, i)
        dims = struct.unpack_from(f"<{nd}Q", b, i + 4)
        i += 4 + 8 * nd
        t, off = struct.unpack_from("<IQ", b, i)
        i += 12
        tensors.append((name, dims, t, off))
    data = (i + alignment - 1) // alignment * alignment
    cut = len(tensors) // 2
    cut_offset = tensors[cut][3]

    def split_keys(no):
        return (string(b"split.no") + struct.pack("<IH", 2, no) + string(b"split.count") + struct.pack("<IH", 2, 2)
                + string(b"split.tensors.count") + struct.pack("<Ii", 5, len(tensors)))

    def part(no, kvs, n_kv_part, members, base, payload):
        head = struct.pack("<IIQQ", magic, version, len(members), n_kv_part) + kvs + split_keys(no)
        for name, dims, t, off in members:
            head += string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", t, off - base)
        head += b"\0" * ((-len(head)) % alignment)
        name = f"{out_prefix}-{no + 1:05d}-of-00002.gguf"
        with open(name, "wb") as f:
            f.write(head + payload)
        return name

    first = part(0, kv_bytes, n_kv + 3, tensors[:cut], 0, b[data:data + cut_offset])
    part(1, b"", 3, tensors[cut:], cut_offset, b[data + cut_offset:])
    return first


if __name__ == "__main__":
    print(split(sys.argv[1], sys.argv[2]))
