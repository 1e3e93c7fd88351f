// Separate compilation: Asio and Beast are compiled here once instead of in
// every translation unit that uses them (BOOST_*_SEPARATE_COMPILATION).
#include <boost/asio/impl/src.hpp>
// Asio's SSL support has its own source file; the outbound HTTPS client needs it.
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
