// The review workflow: review history (the session row carries the latest status) and comments
// anchored to a moment of the recording.
#include "server/store/pool.hpp"

namespace vigil::store {

bool Store::addReview(const std::string& session_id, const std::string& status, const std::string& comment,
                      std::int64_t reviewer_id, const std::string& reviewer) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    if (tx.exec_params("UPDATE sessions SET review_status = $2 WHERE id = $1::uuid", session_id, status)
            .affected_rows() != 1)
      return false;
    tx.exec_params0("INSERT INTO session_reviews(session_id, status, comment, reviewer_id, reviewer)"
                    " VALUES ($1::uuid, $2, $3, $4, $5)",
                    session_id, status, comment, reviewer_id, reviewer);
    return true;
  });
}

std::vector<SessionReview> Store::listReviews(const std::string& session_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<SessionReview> out;
    for (const auto& r : tx.exec_params("SELECT id, status, comment, reviewer, " + rfc3339("at") +
                                            " FROM session_reviews WHERE session_id = $1::uuid ORDER BY id DESC LIMIT 1000",
                                        session_id)) {
      SessionReview v;
      v.id = r[0].as<std::int64_t>();
      v.session_id = session_id;
      v.status = r[1].c_str();
      v.comment = r[2].c_str();
      v.reviewer = r[3].c_str();
      v.at = r[4].c_str();
      out.push_back(std::move(v));
    }
    return out;
  });
}

SessionComment Store::addComment(const std::string& session_id, std::int64_t offset_ms, const std::string& text,
                                 std::int64_t author_id, const std::string& author) {
  return inTx(*pool_, [&](pqxx::work& tx) {
    auto r = tx.exec_params1("INSERT INTO session_comments(session_id, offset_ms, text, author_id, author)"
                             " VALUES ($1::uuid, $2, $3, $4, $5) RETURNING id, " + rfc3339("at"),
                             session_id, offset_ms, text, author_id, author);
    SessionComment c;
    c.id = r[0].as<std::int64_t>();
    c.session_id = session_id;
    c.offset_ms = offset_ms;
    c.text = text;
    c.author = author;
    c.at = r[1].c_str();
    return c;
  });
}

std::vector<SessionComment> Store::listComments(const std::string& session_id) {
  return inRead(*pool_, [&](pqxx::nontransaction& tx) {
    std::vector<SessionComment> out;
    for (const auto& r : tx.exec_params("SELECT id, offset_ms, text, author, " + rfc3339("at") +
                                            " FROM session_comments WHERE session_id = $1::uuid"
                                            " ORDER BY offset_ms, id LIMIT 5000",
                                        session_id)) {
      SessionComment c;
      c.id = r[0].as<std::int64_t>();
      c.session_id = session_id;
      c.offset_ms = r[1].as<std::int64_t>();
      c.text = r[2].c_str();
      c.author = r[3].c_str();
      c.at = r[4].c_str();
      out.push_back(std::move(c));
    }
    return out;
  });
}

}  // namespace vigil::store
