#pragma once
// A Beast body type for web::StreamedBody: the serializer asks for the next piece as the socket
// takes the last one, so only one piece of the body is in memory at a time.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/optional.hpp>
#include <boost/system/errc.hpp>

#include "web/http_types.hpp"

namespace vigil::web::detail {

struct ProducedBody {
  using value_type = StreamedBody;
  static std::uint64_t size(const value_type& body) { return body.size; }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;
    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}
    void init(boost::beast::error_code& ec) { ec = {}; }
    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (offset_ >= body_.size) return boost::none;
      piece_.clear();
      if (!body_.read || !body_.read(offset_, piece_) || piece_.empty()) {
        ec = boost::system::errc::make_error_code(boost::system::errc::io_error);  // ends the connection
        return boost::none;
      }
      if (piece_.size() > body_.size - offset_) piece_.resize(static_cast<std::size_t>(body_.size - offset_));
      offset_ += piece_.size();
      return std::pair<const_buffers_type, bool>(const_buffers_type(piece_.data(), piece_.size()), offset_ < body_.size);
    }

   private:
    const value_type& body_;
    std::uint64_t offset_ = 0;
    std::string piece_;
  };
};

}  // namespace vigil::web::detail
