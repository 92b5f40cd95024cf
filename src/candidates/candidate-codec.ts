import { EventCodec } from '../shared/event-codec.js';
import {
  CandidateCreatedSchema,
  CandidateMetadataSchema,
  EventMetadataSchema,
  HumanActMetadataSchema,
  IncidentCreatedMetadataSchema,
  IncidentCreatedSchema,
  ManualPromotionRequestedSchema,
  PromotionDecidedSchema,
  type CandidateStreamEvent,
} from './candidate-events.js';

export const candidateCodec = new EventCodec<CandidateStreamEvent>('candidate stream', {
  CandidateCreated: [CandidateCreatedSchema, CandidateMetadataSchema],
  ManualPromotionRequested: [ManualPromotionRequestedSchema, HumanActMetadataSchema],
  PromotionDecided: [PromotionDecidedSchema, EventMetadataSchema],
  IncidentCreated: [IncidentCreatedSchema, IncidentCreatedMetadataSchema],
});
