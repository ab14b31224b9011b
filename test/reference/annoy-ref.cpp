// Reference program: the real Annoy 1.17 (annoylib.h from Debian's r-cran-rcppannoy), configured
// exactly like Annoy's Python module (S=int32_t, T=float or uint64_t for hamming, Kiss64Random,
// single-threaded build), so nnserve's engine can be compared with what users' files contain.
// Built by test/reference/build.sh. Usage: see usage() below.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "annoylib.h"
#include "kissrandom.h"

namespace {

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "annoy-ref: %s\n", message.c_str());
  std::exit(1);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage (metric: angular euclidean manhattan dot hamming; f = dimensions, bits for hamming):\n"
               "  annoy-ref build <metric> <f> <n_trees> <seed> <vectors.f32> <out.ann> [ids.i32]\n"
               "  annoy-ref query <metric> <f> <index.ann>   (stdin lines: 'item <i> <n> <search_k>' or\n"
               "                                              'vector <n> <search_k> v1 .. vf')\n"
               "  annoy-ref info <metric> <f> <index.ann>\n"
               "  annoy-ref distance <metric> <f> <index.ann> <i> <j>\n"
               "  annoy-ref item <metric> <f> <index.ann> <i>\n"
               "  annoy-ref batch <metric> <f> <index.ann> <queries.f32> <n> <search_k> <out_ids.i32>\n"
               "  annoy-ref recall <metric> <f> <index.ann> <queries.f32> <truth.i32> <k> <search_k>\n");
  std::exit(2);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <typename V>
std::vector<V> read_raw(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) fail("cannot open " + path);
  std::fseek(file, 0, SEEK_END);
  long size = std::ftell(file);
  std::fseek(file, 0, SEEK_SET);
  if (size < 0 || size % sizeof(V) != 0) fail(path + ": size is not a multiple of " + std::to_string(sizeof(V)));
  std::vector<V> data(size / sizeof(V));
  if (!data.empty() && std::fread(data.data(), sizeof(V), data.size(), file) != data.size()) fail("cannot read " + path);
  std::fclose(file);
  return data;
}

template <typename V>
void write_raw(const std::string& path, const std::vector<V>& data) {
  FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) fail("cannot create " + path);
  if (!data.empty() && std::fwrite(data.data(), sizeof(V), data.size(), file) != data.size()) fail("cannot write " + path);
  if (std::fclose(file) != 0) fail("cannot close " + path);
}

long parse_long(const std::string& text, const char* what) {
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0') fail(std::string("bad ") + what + ": " + text);
  return value;
}

// Float metrics store the user's vector as is.
struct FloatCodec {
  using T = float;
  static int internal_f(int f) { return f; }
  static void pack(const float* src, T* dst, int f) { std::memcpy(dst, src, f * sizeof(float)); }
  static void unpack(const T* src, float* dst, int f) { std::memcpy(dst, src, f * sizeof(float)); }
  static double returned(T distance) { return distance; }
};

// Hamming packs f bits into ceil(f/64) words least significant bit first, like Python annoy's
// HammingWrapper (bit j of word i is element i*64+j > 0.5).
struct BitCodec {
  using T = uint64_t;
  static int internal_f(int f) { return (f + 63) / 64; }
  static void pack(const float* src, T* dst, int f) {
    for (int i = 0; i < internal_f(f); i++) {
      dst[i] = 0;
      for (int j = 0; j < 64 && i * 64 + j < f; j++) dst[i] |= static_cast<uint64_t>(src[i * 64 + j] > 0.5f) << j;
    }
  }
  static void unpack(const T* src, float* dst, int f) {
    for (int i = 0; i < f; i++) dst[i] = static_cast<float>((src[i / 64] >> (i % 64)) & 1);
  }
  static double returned(T distance) { return static_cast<double>(distance); }
};

template <typename Metric, typename Codec>
class Reference {
  using T = typename Codec::T;
  using Index = AnnoyIndex<int32_t, T, Metric, Kiss64Random, AnnoyIndexSingleThreadedBuildPolicy>;

 public:
  explicit Reference(int f) : f_(f), index_(Codec::internal_f(f)), packed_(Codec::internal_f(f)) {}

  void load(const std::string& path) {
    char* error = nullptr;
    if (!index_.load(path.c_str(), false, &error)) fail(path + ": " + (error ? error : "load failed"));
  }

  int build(const std::vector<std::string>& args) {
    if (args.size() < 4 || args.size() > 5) usage();
    int n_trees = static_cast<int>(parse_long(args[0], "n_trees"));
    uint64_t seed = static_cast<uint64_t>(parse_long(args[1], "seed"));
    std::vector<float> vectors = read_raw<float>(args[2]);
    if (vectors.size() % f_ != 0) fail(args[2] + ": not a whole number of rows of f floats");
    size_t rows = vectors.size() / f_;
    std::vector<int32_t> ids;
    if (args.size() == 5) {
      ids = read_raw<int32_t>(args[4]);
      if (ids.size() != rows) fail(args[4] + ": needs one int32 id per vector row");
    }
    index_.set_seed(seed);
    for (size_t row = 0; row < rows; row++) {
      Codec::pack(&vectors[row * f_], packed_.data(), f_);
      char* error = nullptr;
      int32_t id = ids.empty() ? static_cast<int32_t>(row) : ids[row];
      if (!index_.add_item(id, packed_.data(), &error)) fail(std::string("add_item: ") + (error ? error : "?"));
    }
    double start = now_seconds();
    char* error = nullptr;
    if (!index_.build(n_trees, 1, &error)) fail(std::string("build: ") + (error ? error : "?"));
    double seconds = now_seconds() - start;
    if (!index_.save(args[3].c_str(), false, &error)) fail(std::string("save: ") + (error ? error : "?"));
    std::printf("{\"seconds\":%.6f}\n", seconds);
    return 0;
  }

  int query() {
    std::string line;
    std::vector<float> vector(f_);
    while (std::getline(std::cin, line)) {
      std::istringstream in(line);
      std::string kind;
      if (!(in >> kind)) continue;
      std::vector<int32_t> ids;
      std::vector<T> distances;
      long n = 0, search_k = 0;
      if (kind == "item") {
        long item = 0;
        if (!(in >> item >> n >> search_k)) fail("bad query line: " + line);
        index_.get_nns_by_item(static_cast<int32_t>(item), n, static_cast<int>(search_k), &ids, &distances);
      } else if (kind == "vector") {
        if (!(in >> n >> search_k)) fail("bad query line: " + line);
        for (int z = 0; z < f_; z++) {
          std::string value;
          if (!(in >> value)) fail("query vector shorter than f: " + line);
          vector[z] = static_cast<float>(std::strtod(value.c_str(), nullptr));
        }
        Codec::pack(vector.data(), packed_.data(), f_);
        index_.get_nns_by_vector(packed_.data(), n, static_cast<int>(search_k), &ids, &distances);
      } else {
        fail("unknown query kind: " + kind);
      }
      std::string out = "{\"ids\":[";
      char number[64];
      for (size_t i = 0; i < ids.size(); i++) out += (i ? "," : "") + std::to_string(ids[i]);
      out += "],\"distances\":[";
      for (size_t i = 0; i < distances.size(); i++) {
        std::snprintf(number, sizeof number, "%.9g", Codec::returned(distances[i]));
        out += (i ? "," : "") + std::string(number);
      }
      out += "]}";
      std::puts(out.c_str());
    }
    return 0;
  }

  int info() {
    std::printf("{\"n_items\":%d,\"n_trees\":%d}\n", index_.get_n_items(), index_.get_n_trees());
    return 0;
  }

  int distance(const std::vector<std::string>& args) {
    if (args.size() != 2) usage();
    T d = index_.get_distance(static_cast<int32_t>(parse_long(args[0], "i")), static_cast<int32_t>(parse_long(args[1], "j")));
    std::printf("{\"distance\":%.9g}\n", Codec::returned(d));
    return 0;
  }

  int item(const std::vector<std::string>& args) {
    if (args.size() != 1) usage();
    std::vector<float> vector(f_);
    index_.get_item(static_cast<int32_t>(parse_long(args[0], "i")), packed_.data());
    Codec::unpack(packed_.data(), vector.data(), f_);
    std::string out = "{\"vector\":[";
    char number[64];
    for (int z = 0; z < f_; z++) {
      std::snprintf(number, sizeof number, "%.9g", vector[z]);
      out += (z ? "," : "") + std::string(number);
    }
    out += "]}";
    std::puts(out.c_str());
    return 0;
  }

  int batch(const std::vector<std::string>& args) {
    if (args.size() != 4) usage();
    std::vector<float> queries = read_raw<float>(args[0]);
    long n = parse_long(args[1], "n");
    int search_k = static_cast<int>(parse_long(args[2], "search_k"));
    size_t count = queries.size() / f_;
    std::vector<int32_t> out(count * n, -1);
    std::vector<int32_t> ids;
    double start = now_seconds();
    for (size_t q = 0; q < count; q++) {
      ids.clear();
      Codec::pack(&queries[q * f_], packed_.data(), f_);
      index_.get_nns_by_vector(packed_.data(), n, search_k, &ids, nullptr);
      std::copy(ids.begin(), ids.end(), out.begin() + q * n);
    }
    double seconds = now_seconds() - start;
    write_raw(args[3], out);
    std::printf("{\"queries\":%zu,\"seconds\":%.6f,\"qps\":%.1f}\n", count, seconds, count / seconds);
    return 0;
  }

  int recall(const std::vector<std::string>& args) {
    if (args.size() != 4) usage();
    std::vector<float> queries = read_raw<float>(args[0]);
    std::vector<int32_t> truth = read_raw<int32_t>(args[1]);
    long k = parse_long(args[2], "k");
    int search_k = static_cast<int>(parse_long(args[3], "search_k"));
    size_t count = queries.size() / f_;
    if (truth.size() != count * k) fail(args[1] + ": needs k int32 ids per query");
    std::vector<int32_t> ids;
    size_t found = 0;
    double start = now_seconds();
    for (size_t q = 0; q < count; q++) {
      ids.clear();
      Codec::pack(&queries[q * f_], packed_.data(), f_);
      index_.get_nns_by_vector(packed_.data(), k, search_k, &ids, nullptr);
      for (int32_t id : ids)
        for (long t = 0; t < k; t++)
          if (truth[q * k + t] == id) {
            found++;
            break;
          }
    }
    double seconds = now_seconds() - start;
    std::printf("{\"recall\":%.6f,\"queries\":%zu,\"qps\":%.1f}\n", static_cast<double>(found) / (count * k), count,
                count / seconds);
    return 0;
  }

 private:
  int f_;
  Index index_;
  std::vector<T> packed_;
};

template <typename Metric, typename Codec>
int run(const std::string& command, int f, const std::vector<std::string>& args) {
  Reference<Metric, Codec> ref(f);
  if (command == "build") return ref.build(args);
  if (args.empty()) usage();
  ref.load(args[0]);
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "query" && rest.empty()) return ref.query();
  if (command == "info" && rest.empty()) return ref.info();
  if (command == "distance") return ref.distance(rest);
  if (command == "item") return ref.item(rest);
  if (command == "batch") return ref.batch(rest);
  if (command == "recall") return ref.recall(rest);
  usage();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) usage();
  std::string command = argv[1], metric = argv[2];
  long f = parse_long(argv[3], "f");
  if (f < 1 || f > 65536) fail("f out of range");
  std::vector<std::string> args(argv + 4, argv + argc);
  if (metric == "angular") return run<Angular, FloatCodec>(command, static_cast<int>(f), args);
  if (metric == "euclidean") return run<Euclidean, FloatCodec>(command, static_cast<int>(f), args);
  if (metric == "manhattan") return run<Manhattan, FloatCodec>(command, static_cast<int>(f), args);
  if (metric == "dot") return run<DotProduct, FloatCodec>(command, static_cast<int>(f), args);
  if (metric == "hamming") return run<Hamming, BitCodec>(command, static_cast<int>(f), args);
  fail("unknown metric: " + metric);
}
