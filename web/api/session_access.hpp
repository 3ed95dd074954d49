#pragma once
// Shared by the session routes (session_routes.cpp) and the review routes (review_routes.cpp):
// the JSON view of a session and who may see, play and review it.
#include "web/api/context.hpp"

namespace vigil::web {

json sessionJson(const store::SessionRecord& s);
/// Listing and metadata: superuser, the session's own user, view_recordings or monitor_live.
bool canSeeSession(const RequestContext& c, const store::SessionRecord& s);
/// Recordings: superuser, view_recordings on the safe, or an auditor with a membership.
bool canViewRecording(const RequestContext& c, const store::SessionRecord& s);
/// GET /sessions with every filter, sort and cursor of docs/api.md.
HttpResponse listSessionsHandler(RequestContext& c);
/// Review routes: playback, recording file, search, reviews, comments, review queue.
void addReviewRoutes(std::vector<Route>& r);

}  // namespace vigil::web
