// Separate compilation: Asio and Beast are compiled here once instead of in
// every translation unit that uses them (BOOST_*_SEPARATE_COMPILATION).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
