// The histograms are templates (histogram.h); their code is compiled once, here.
#include "bench/histogram.h"

namespace bench {

template class BasicLatencyHistogram<7, std::uint64_t>;
template class BasicLatencyHistogram<5, std::uint32_t>;

}  // namespace bench
